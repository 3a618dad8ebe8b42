// libFuzzer: the whole engine — tracking, adaptive modes, SYN cookies, the proxy with its
// translation, reloads — fed packet sequences built from the input, with the engine's invariants
// checked after every step (half-open counters equal a recount, per-state gauges, proxied
// connections against the proxy table). Sequence and acknowledgment numbers are mostly relative
// to what each side last sent or received (cookies included), so the fuzzer reaches deep states.
// A record may also send back an ICMP error quoting (part of) the segment as it was passed on,
// so proxied connections' errors get translated.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/packet/segment.h"
#include "tests/support/capturing_sink.h"
#include "tests/support/invariants.h"
#include "tests/support/manual_clock.h"
#include "tests/support/packet_builder.h"
#include "tests/support/test_secrets.h"

namespace {

using synguard::testing::PacketBuilder;
namespace eng = synguard::engine;

constexpr std::size_t kClients = 4;
constexpr std::size_t kRecord = 14;

eng::EngineConfig config(bool always, std::uint32_t on) {
  eng::EngineConfig c;
  c.table_capacity = 64;              // small: eviction and emergency timeouts get exercised too
  c.half_open.service_capacity = 32;  // small: counter recycling and overflow too
  c.half_open.source_capacity = 32;
  c.protection.proxy.capacity = 8;
  c.protection.proxy.early_segment_buffers = 8;
  eng::ServiceConfig s;
  s.name = "web";
  (void)s.addresses.add("198.51.100.0/24");
  (void)s.addresses.add("2001:db8:5::/64");
  s.ports = {{80, 80}};
  s.mode = always ? eng::ProtectionMode::kAlways : eng::ProtectionMode::kAdaptive;
  s.thresholds.half_open_on = on;
  s.thresholds.half_open_off = on / 2;
  s.thresholds.syn_rate_on = 50;
  s.thresholds.syn_rate_off = 10;
  s.thresholds.hold = std::chrono::milliseconds(500);
  s.per_source.max_half_open = 3;
  c.protection.services.push_back(s);
  c.bypass_established = true;
  return c;
}

struct Flow {
  std::uint32_t client_next = 1000;  // what the client sends next
  std::uint32_t server_next = 0;     // what the server sends next
  std::uint32_t cookie = 0;          // last cookie ISN the engine gave this client
  std::uint32_t proxy_isn = 0;       // last ISN the proxy used towards the server
};

std::uint32_t load32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) << 24 | static_cast<std::uint32_t>(p[1]) << 16 |
         static_cast<std::uint32_t>(p[2]) << 8 | p[3];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  synguard::testing::ManualClock clock;
  clock.set(eng::MonotonicTime{std::chrono::seconds(1'800'000'000)});
  synguard::testing::CapturingSink sink;
  auto created = eng::Engine::create(
      config(false, 4), synguard::testing::testSecrets(eng::SipKey{7, 9}), clock, sink);
  if (!created) {
    __builtin_trap();
  }
  eng::Engine e = std::move(*created);
  Flow flows[kClients];
  for (std::size_t at = 0; at + kRecord <= size; at += kRecord) {
    const std::uint8_t* r = data + at;
    const std::uint8_t op = r[0];
    if (op == 0xff) {  // a reload: modes and thresholds change under traffic
      if (!e.reconfigure(config((r[1] & 1) != 0, 2U + (r[1] >> 4)))) {
        __builtin_trap();
      }
      continue;
    }
    Flow& f = flows[op & 3];
    const bool from_server = (op & 4) != 0;
    const bool v6 = (op & 8) != 0;
    const std::string client = v6 ? "2001:db8:c::" + std::to_string(10 + (op & 3))
                                  : "192.0.2." + std::to_string(10 + (op & 3));
    const std::string server = v6 ? "2001:db8:5::10" : "198.51.100.10";
    const std::uint16_t cport = static_cast<std::uint16_t>(40000 + (op & 3));
    const std::uint16_t sport = (op & 0x10) != 0 ? 81 : 80;  // 81: not a service
    const std::uint8_t flags = r[1];
    // Numbers: relative to the flow (bit set) or taken from the input as they are.
    const std::uint32_t seq_in = load32(r + 2);
    const std::uint32_t ack_in = load32(r + 6);
    std::uint32_t seq = seq_in;
    std::uint32_t ack = ack_in;
    if ((op & 0x20) != 0) {
      const std::uint32_t d = seq_in & 0xff;
      seq = (from_server ? f.server_next : f.client_next) + d - 8;
      const std::uint32_t base =
          from_server
              ? f.client_next
              : ((ack_in & 0x100) != 0 ? f.cookie + 1
                                       : ((ack_in & 0x200) != 0 ? f.proxy_isn + 1 : f.server_next));
      ack = base + (ack_in & 0xff) - 8;
    }
    PacketBuilder b =
        from_server
            ? (v6 ? PacketBuilder::ipv6(server, client) : PacketBuilder::ipv4(server, client))
                  .tcp(sport, cport)
            : (v6 ? PacketBuilder::ipv6(client, server) : PacketBuilder::ipv4(client, server))
                  .tcp(cport, sport);
    b.flags(flags).seq(seq).window(static_cast<std::uint16_t>(r[10] << 8 | 0xff));
    if ((flags & 0x10) != 0) {
      b.ack(ack);
    }
    const std::uint8_t opts = r[11];
    if ((opts & 1) != 0) {
      b.mss(static_cast<std::uint16_t>(500 + (opts >> 4) * 64));
    }
    if ((opts & 2) != 0) {
      b.wscale(static_cast<std::uint8_t>(opts >> 4));
    }
    if ((opts & 4) != 0) {
      b.sackPermitted();
    }
    if ((opts & 8) != 0) {
      b.timestamps(seq_in ^ ack_in, (op & 0x40) != 0 ? f.cookie : ack_in);
    }
    const std::size_t payload = r[12] & 0x7f;
    if (payload > 0) {
      b.payload(payload);
    }
    const std::vector<std::byte> pkt = b.build();
    std::vector<std::byte> mutable_pkt = pkt;
    eng::PacketMeta meta;
    // The kernel did not verify the checksum (NFQUEUE says so): the engine checks SYNs to a
    // service itself; sometimes the checksum is wrong.
    meta.checksum_unverified = (r[12] & 0x80) != 0;
    if (meta.checksum_unverified && (opts & 0x10) != 0) {
      eng::Segment parsed;
      if (eng::parseSegment(mutable_pkt, parsed) == eng::ParseError::kNone) {
        mutable_pkt[parsed.tcp_offset + 16] ^= std::byte{0x5a};
      }
    }
    if ((op & 0x80) != 0) {
      e.processMutable(mutable_pkt, meta);
    } else {
      e.process(pkt);
    }
    const unsigned adv = r[13];
    if ((adv & 0x40) != 0) {
      // An error about that segment from a router, to its source (sometimes elsewhere),
      // quoting from nothing to all of it (RFC 792's 8 bytes of TCP: 28 or 48).
      const std::vector<std::byte>& quoted = (op & 0x80) != 0 ? mutable_pkt : pkt;
      const std::string router = v6 ? "2001:db8:c::1" : "192.0.2.1";
      const std::string to = (adv & 0x20) != 0 ? router : (from_server ? server : client);
      const std::uint8_t type = v6 ? static_cast<std::uint8_t>(1 + (r[10] & 3))
                                   : static_cast<std::uint8_t>((r[10] & 3) == 0 ? 11 : 3);
      std::vector<std::byte> err = synguard::testing::icmpError(
          router, to, type, static_cast<std::uint8_t>(r[10] >> 6 == 0 ? 4 : 0), quoted,
          (std::size_t{r[12]} * 7) % (quoted.size() + 9));
      const eng::Verdict v = (op & 0x80) != 0 ? e.processMutable(err) : e.process(err);
      if (v.rewritten && !synguard::testing::icmpChecksumOk(err)) {
        __builtin_trap();  // a translated error keeps a valid checksum
      }
    }
    (from_server ? f.server_next : f.client_next) =
        seq + static_cast<std::uint32_t>(payload) + ((flags & 0x03) != 0 ? 1 : 0);
    // What the engine sent: cookies to clients, SYNs to servers (for relative numbers).
    for (const auto& out : sink.packets()) {
      eng::Segment s;
      if (eng::parseSegment(out, s) != eng::ParseError::kNone) {
        __builtin_trap();  // the engine must only emit well-formed packets
      }
      for (std::size_t c = 0; c < kClients; ++c) {
        if (s.dst_port == 40000 + c && s.has(eng::kSyn) && s.has(eng::kAck)) {
          flows[c].cookie = s.seq.raw();
        } else if (s.src_port == 40000 + c && s.has(eng::kSyn) && !s.has(eng::kAck)) {
          flows[c].proxy_isn = s.seq.raw();
        }
      }
    }
    sink.clear();
    clock.advance(std::chrono::microseconds(std::uint64_t{1} << (adv & 31)) / 64);
    if ((adv & 0x80) != 0) {
      e.expire();
    }
    const std::string problem = synguard::testing::engineInvariantProblems(e);
    if (!problem.empty()) {
      std::fprintf(stderr, "invariant broken after record %zu: %s\n", at / kRecord,
                   problem.c_str());
      __builtin_trap();
    }
  }
  return 0;
}
