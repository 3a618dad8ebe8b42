// The XDP program against the engine, byte for byte: for random SYNs (IPv4 and IPv6, VLAN or
// not, every option combination, both keys, across a rotation) BPF_PROG_TEST_RUN's frame is the
// engine's own cookie SYN-ACK behind the Ethernet header, and the engine takes the client's ACK
// as its own cookie. Malformed frames never make the program transmit; every pass reason is
// reached. Needs root (CI runs as root); skipped, saying why, where BPF test runs are refused.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iostream>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "daemon/inline/xdp/xdp_abi.h"
#include "daemon/inline/xdp/xdp_program.h"
#include "engine/packet/segment.h"
#include "tests/support/engine_harness.h"
#include "tests/support/packet_builder.h"

namespace synguard::testing {
namespace {

using daemon::xdp::Counters;
using daemon::xdp::ServiceState;
using daemon::xdp::StateInputs;
using daemon::xdp::XdpProgram;
using Bytes = std::vector<std::uint8_t>;

constexpr std::uint32_t kXdpAborted = 0;
constexpr std::uint32_t kXdpDrop = 1;
constexpr std::uint32_t kXdpPass = 2;
constexpr std::uint32_t kXdpTx = 3;
constexpr std::uint8_t kSynFlag = 0x02;
constexpr std::uint8_t kAckFlag = 0x10;
constexpr std::uint8_t kEceFlag = 0x40;
constexpr std::uint8_t kCwrFlag = 0x80;
constexpr std::int64_t kNsPerSec = 1'000'000'000;
constexpr std::array<std::uint8_t, 6> kClientMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
constexpr std::array<std::uint8_t, 6> kGatewayMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x02};

Bytes toBytes(std::span<const std::byte> b) {
  Bytes out(b.size());
  std::transform(b.begin(), b.end(), out.begin(),
                 [](std::byte x) { return std::to_integer<std::uint8_t>(x); });
  return out;
}

/// An Ethernet frame around `ip`: an 802.1Q tag when `vlan` >= 0, `pad` trailing bytes.
Bytes frameOf(const Bytes& ip, bool v6, int vlan = -1, std::size_t pad = 0) {
  Bytes f(kGatewayMac.begin(), kGatewayMac.end());
  f.insert(f.end(), kClientMac.begin(), kClientMac.end());
  if (vlan >= 0) {
    f.insert(f.end(), {0x81, 0x00, static_cast<std::uint8_t>(vlan >> 8),
                       static_cast<std::uint8_t>(vlan & 0xff)});
  }
  f.insert(f.end(), {static_cast<std::uint8_t>(v6 ? 0x86 : 0x08),
                     static_cast<std::uint8_t>(v6 ? 0xdd : 0x00)});
  f.insert(f.end(), ip.begin(), ip.end());
  f.insert(f.end(), pad, 0);
  return f;
}

/// What the program must send for a SYN in `frame` whose answer the engine emitted as `ip`.
Bytes expectedFrame(const Bytes& ip, bool v6, int vlan) {
  Bytes f(kClientMac.begin(), kClientMac.end());
  f.insert(f.end(), kGatewayMac.begin(), kGatewayMac.end());
  if (vlan >= 0) {
    f.insert(f.end(), {0x81, 0x00, static_cast<std::uint8_t>(vlan >> 8),
                       static_cast<std::uint8_t>(vlan & 0xff)});
  }
  f.insert(f.end(), {static_cast<std::uint8_t>(v6 ? 0x86 : 0x08),
                     static_cast<std::uint8_t>(v6 ? 0xdd : 0x00)});
  f.insert(f.end(), ip.begin(), ip.end());
  return f;
}

engine::ServiceConfig service(const std::string& name, const std::vector<std::string>& prefixes,
                              std::vector<engine::PortRange> ports) {
  engine::ServiceConfig s;
  s.name = name;
  for (const std::string& p : prefixes) {
    EXPECT_TRUE(s.addresses.add(p).has_value()) << p;
  }
  s.ports = std::move(ports);
  s.mode = engine::ProtectionMode::kAlways;
  return s;
}

/// The services of the random rounds: different profiles (defaults, MSS and window-scale
/// overrides, "announce no window scale").
engine::EngineConfig equivalenceConfig(bool zero_window) {
  engine::EngineConfig cfg;
  cfg.table_capacity = 1U << 16;
  auto& p = cfg.protection;
  p.services.push_back(
      service("web", {"198.51.100.0/24", "2001:db8:5::/64"}, {{80, 80}, {443, 443}}));
  auto b = service("api", {"203.0.113.0/25", "2001:db8:6::/48"}, {{8000, 8100}});
  b.mss_override = 1400;
  b.wscale_override = 15;  // > 14: announce none
  p.services.push_back(b);
  auto c = service("ssh", {"192.0.2.0/24", "2001:db8:7::/64"}, {{22, 22}});
  c.mss_override = 8960;
  c.wscale_override = 2;
  p.services.push_back(c);
  p.proxy.hold_with_zero_window = zero_window;
  p.proxy.capacity = 1U << 17;
  p.proxy.max_per_source = 0;
  return cfg;
}

/// One random SYN to one of equivalenceConfig's services.
struct RandomSyn {
  Bytes ip;
  bool v6 = false;
  int vlan = -1;
  std::size_t pad = 0;
  std::uint32_t isn = 0;
  std::string src;
  std::string dst;
  std::uint16_t sport = 0;
  std::uint16_t dport = 0;
};

std::string v4Text(std::uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 0xff) + "." +
         std::to_string((a >> 8) & 0xff) + "." + std::to_string(a & 0xff);
}
std::string v6Text(std::uint16_t a, std::uint16_t b, std::uint16_t c, std::mt19937_64& rng) {
  static const char* const kHex = "0123456789abcdef";
  const auto hex = [](std::uint16_t v) {
    std::string s;
    for (int sh = 12; sh >= 0; sh -= 4) {
      s += kHex[(v >> sh) & 0xf];
    }
    return s;
  };
  std::string s = hex(a) + ":" + hex(b) + ":" + hex(c);
  for (int i = 0; i < 5; ++i) {
    s += ":" + hex(static_cast<std::uint16_t>(rng()));
  }
  return s;
}

/// Random options: MSS across and around both tables, window scale 0..14 and beyond,
/// SACK-permitted, timestamps, unknown options, NOP padding, EOL.
std::vector<std::uint8_t> randomOptions(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> pct(0, 99);
  std::vector<std::vector<std::uint8_t>> items;
  static constexpr std::array<std::uint16_t, 16> kMss{
      536, 535, 537, 1300, 1299, 1301, 1440, 1460, 1461, 1220, 1219, 1420, 8940, 8939, 0, 65535};
  if (pct(rng) < 80) {
    const std::uint16_t m =
        pct(rng) < 70 ? kMss[rng() % kMss.size()] : static_cast<std::uint16_t>(rng());
    items.push_back({2, 4, static_cast<std::uint8_t>(m >> 8), static_cast<std::uint8_t>(m)});
  }
  if (pct(rng) < 60) {
    const auto ws = static_cast<std::uint8_t>(pct(rng) < 85 ? rng() % 15 : rng() % 256);
    items.push_back({3, 3, ws});
  }
  if (pct(rng) < 60) {
    items.push_back({4, 2});
  }
  if (pct(rng) < 70) {
    std::vector<std::uint8_t> ts{8, 10};
    const std::uint32_t val = static_cast<std::uint32_t>(rng());
    const std::uint32_t ecr = pct(rng) < 80 ? 0U : static_cast<std::uint32_t>(rng());
    for (int sh = 24; sh >= 0; sh -= 8) {
      ts.push_back(static_cast<std::uint8_t>(val >> sh));
    }
    for (int sh = 24; sh >= 0; sh -= 8) {
      ts.push_back(static_cast<std::uint8_t>(ecr >> sh));
    }
    items.push_back(ts);
  }
  if (pct(rng) < 20) {
    const std::uint8_t kind = pct(rng) < 50 ? 30 : 34;
    const auto len = static_cast<std::uint8_t>(2 + rng() % 5);
    std::vector<std::uint8_t> u{kind, len};
    for (int i = 2; i < len; ++i) {
      u.push_back(static_cast<std::uint8_t>(rng()));
    }
    items.push_back(u);
  }
  std::shuffle(items.begin(), items.end(), rng);
  std::vector<std::uint8_t> o;
  for (const auto& it : items) {
    if (pct(rng) < 25) {
      o.push_back(1);  // NOP
    }
    if (o.size() + it.size() > 40) {
      break;
    }
    o.insert(o.end(), it.begin(), it.end());
  }
  if (o.size() % 4 != 0 || pct(rng) < 10) {
    if (pct(rng) < 50 && o.size() < 40) {
      o.push_back(0);  // EOL, then zeros
      while (o.size() % 4 != 0) {
        o.push_back(0);
      }
    } else {
      while (o.size() % 4 != 0) {
        o.push_back(1);
      }
    }
  }
  return o;
}

RandomSyn randomSyn(std::mt19937_64& rng, const engine::EngineConfig& cfg) {
  std::uniform_int_distribution<int> pct(0, 99);
  RandomSyn s;
  s.v6 = pct(rng) < 50;
  const std::size_t svc = rng() % 3;
  static constexpr std::array<std::uint32_t, 3> kV4Nets{0xc6336400U, 0xcb007100U, 0xc0000200U};
  static constexpr std::array<std::uint32_t, 3> kV4Hosts{0xff, 0x7f, 0xff};
  static constexpr std::array<std::uint16_t, 3> kV6Third{5, 6, 7};
  const auto& svc_cfg = cfg.protection.services[svc];
  const engine::PortRange r = svc_cfg.ports[rng() % svc_cfg.ports.size()];
  s.dport = static_cast<std::uint16_t>(r.first + rng() % (r.last - r.first + 1U));
  s.sport = static_cast<std::uint16_t>(1024 + rng() % 64000);
  if (s.v6) {
    s.dst = v6Text(0x2001, 0x0db8, kV6Third[svc], rng);
    s.dst.replace(15, 4, "0000");  // inside the /64 (and the /48)
    s.src =
        v6Text(0x2a00, static_cast<std::uint16_t>(rng()), static_cast<std::uint16_t>(rng()), rng);
  } else {
    s.dst = v4Text(kV4Nets[svc] | static_cast<std::uint32_t>(rng() % (kV4Hosts[svc] + 1)));
    s.src = v4Text(0x0a000000U | static_cast<std::uint32_t>(rng() & 0xffffff));
  }
  s.isn = static_cast<std::uint32_t>(rng());
  std::uint8_t flags = kSynFlag;
  if (pct(rng) < 15) {
    flags |= kEceFlag | kCwrFlag;
  } else if (pct(rng) < 10) {
    flags |= pct(rng) < 50 ? kEceFlag : kCwrFlag;
  }
  auto b = (s.v6 ? PacketBuilder::ipv6(s.src, s.dst) : PacketBuilder::ipv4(s.src, s.dst));
  b.tcp(s.sport, s.dport).flags(flags).seq(s.isn).window(static_cast<std::uint16_t>(rng()));
  b.rawOptions(pct(rng) < 90 ? randomOptions(rng) : std::vector<std::uint8_t>{});
  s.ip = toBytes(b.build());
  s.vlan = pct(rng) < 30 ? static_cast<int>(rng() % 4095) : -1;
  s.pad = pct(rng) < 10 ? rng() % 30 : 0;
  return s;
}

/// The client's ACK for a SYN-ACK `synack` (IP bytes) the engine accepts as its cookie.
Bytes clientAck(const RandomSyn& s, const Bytes& synack, std::mt19937_64& rng) {
  std::vector<std::byte> b(synack.size());
  std::transform(synack.begin(), synack.end(), b.begin(),
                 [](std::uint8_t x) { return std::byte{x}; });
  engine::Segment seg;
  EXPECT_EQ(engine::parseSegment(b, seg), engine::ParseError::kNone);
  auto a = (s.v6 ? PacketBuilder::ipv6(s.src, s.dst) : PacketBuilder::ipv4(s.src, s.dst));
  a.tcp(s.sport, s.dport).ack(seg.seq.raw() + 1).seq(s.isn + 1).window(512);
  if (seg.options.has_timestamps) {
    a.timestamps(static_cast<std::uint32_t>(rng()), seg.options.ts_val);
  }
  return toBytes(a.build());
}

class XdpEquivalence : public ::testing::Test, public EngineHarness {
 protected:
  XdpEquivalence()
      : EngineHarness(testSecrets(engine::SipKey{0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL})) {}

  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root for BPF_PROG_TEST_RUN (CI runs as root)";
    }
    auto p = XdpProgram::load(XdpProgram::Options{.fixed_clock = true});
    ASSERT_TRUE(p.has_value()) << p.error().message;
    prog_ = std::move(*p);
    // A test run of a frame the program passes at once: the kernel must support test runs.
    const auto r = prog_->testRun(Bytes(60, 0));
    if (!r) {
      GTEST_SKIP() << "BPF_PROG_TEST_RUN unsupported here: " << r.error().message;
    }
  }

  /// The engine and the program on `cfg`, both at wall time `t_ns` (key period of `t_ns`).
  void startBoth(const engine::EngineConfig& cfg, std::int64_t t_ns, bool check_source = true) {
    cfg_ = cfg;
    start(cfg_, nullptr, engine::MonotonicTime{std::chrono::nanoseconds(t_ns)});
    writeState(t_ns, check_source);
    ASSERT_TRUE(prog_->writeServiceMap(cfg_.protection).has_value());
    for (std::size_t i = 0; i < cfg_.protection.services.size(); ++i) {
      writeService(i, SG_XDP_SVC_COOKIE);
    }
    setTime(t_ns);
  }
  void writeState(std::int64_t t_ns, bool check_source = true) {
    StateInputs in;
    in.config = &cfg_;
    in.master_key = secrets_.master_key;
    in.wall_now_ns = t_ns;
    in.check_source = check_source;
    prog_->writeState(in);
  }
  void writeService(std::size_t i, sg_xdp_svc_action action, bool deny_drop = true) {
    ServiceState s;
    s.action = action;
    s.deny_drop = deny_drop;
    s.profile = eng().cookieProfile(i);
    s.default_mss_v4 = cfg_.protection.default_mss_v4;
    s.default_mss_v6 = cfg_.protection.default_mss_v6;
    prog_->writeService(i, s);
  }
  void setTime(std::int64_t t_ns) {
    clock_.set(engine::MonotonicTime{std::chrono::nanoseconds(t_ns)});
    prog_->setFixedWallNs(static_cast<std::uint64_t>(t_ns));
  }

  XdpProgram::RunResult run(const Bytes& frame) {
    auto r = prog_->testRun(frame);
    EXPECT_TRUE(r.has_value()) << r.error().message;
    return r ? *r : XdpProgram::RunResult{};
  }

  /// The engine's SYN-ACK for `ip` (empty if it sent none). Proxied connections of earlier
  /// ACKs may emit too (their server times out as the clock runs): only a SYN-ACK counts.
  Bytes engineAnswer(const Bytes& ip) {
    sink_.clear();
    std::vector<std::byte> b(ip.size());
    std::transform(ip.begin(), ip.end(), b.begin(), [](std::uint8_t x) { return std::byte{x}; });
    last_verdict_ = eng().process(b);
    Bytes found;
    for (const auto& pkt : sink_.packets()) {
      engine::Segment seg;
      if (engine::parseSegment(pkt, seg) == engine::ParseError::kNone &&
          (seg.flags & (kSynFlag | kAckFlag)) == (kSynFlag | kAckFlag)) {
        found = toBytes(pkt);
      }
    }
    return found;
  }

  /// The other slot's counters (test runs have no ingress interface of ours).
  Counters counters() const { return prog_->counters(SG_XDP_MAX_IFACES); }

  /// `n` random SYNs from `t0` on, the time moving on by up to `max_step_ns` each.
  void equivalenceRound(std::mt19937_64& rng, int n, std::int64_t& now, std::int64_t max_step_ns,
                        int& acks_checked) {
    for (int i = 0; i < n; ++i) {
      now += static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(max_step_ns));
      setTime(now);
      const RandomSyn s = randomSyn(rng, cfg_);
      const auto r = run(frameOf(s.ip, s.v6, s.vlan, s.pad));
      const Bytes want = engineAnswer(s.ip);
      ASSERT_FALSE(want.empty()) << "the engine sent no SYN-ACK (SYN " << i << ", "
                                 << engine::toString(last_verdict_.reason) << ", XDP action "
                                 << r.action << ")";
      ASSERT_EQ(r.action, kXdpTx) << "SYN " << i << " " << s.src << " -> " << s.dst;
      ASSERT_EQ(r.out, expectedFrame(want, s.v6, s.vlan))
          << "SYN " << i << " " << s.src << " -> " << s.dst << ":" << s.dport << " at " << now;
      if (i % 8 == 0) {
        const std::uint64_t before = st().cookies_validated;
        (void)engineAnswer(clientAck(s, want, rng));
        ASSERT_EQ(st().cookies_validated, before + 1) << "ACK of SYN " << i;
        ++acks_checked;
      }
    }
  }

  engine::EngineConfig cfg_;
  std::unique_ptr<XdpProgram> prog_;
  engine::Verdict last_verdict_;
};

TEST_F(XdpEquivalence, RandomSynsGetTheEnginesSynAckByteForByte) {
  std::mt19937_64 rng(20261205);
  constexpr std::int64_t kRotation = 3600;  // ProtectionConfig::key_rotation's default
  int acks = 0;
  int total = 0;
  for (const bool zero_window : {true, false}) {
    const engine::EngineConfig cfg = equivalenceConfig(zero_window);
    // Key period P = 500000 (wall 1.8e9 s); the SYNs run through P and P + 1.
    std::int64_t now = 500'000 * kRotation * kNsPerSec + static_cast<std::int64_t>(rng() % 1000);
    startBoth(cfg, now);
    constexpr int kPerRound = 50'000;
    // 1.5 * 3600 s a round on average: every cookie window, and the rotation to P + 1.
    const std::int64_t step = 3 * kRotation * kNsPerSec / kPerRound;
    equivalenceRound(rng, kPerRound, now, step, acks);
    total += kPerRound;
    if (HasFatalFailure()) {
      return;
    }
  }
  EXPECT_EQ(total, 100'000);
  EXPECT_GT(acks, 12'000);
  EXPECT_EQ(counters()[SG_XDP_TX_COOKIE], 100'000U);
}

/// Recomputes an IPv4 header checksum after a test changed the header.
void fixIpv4Checksum(Bytes& ip) {
  const std::size_t ihl = std::size_t{ip[0] & 0x0fU} * 4;
  if (ip.size() < ihl || ihl < 20) {
    return;
  }
  ip[10] = 0;
  ip[11] = 0;
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < ihl; i += 2) {
    sum += (std::uint32_t{ip[i]} << 8) | ip[i + 1];
  }
  while (sum > 0xffff) {
    sum = (sum & 0xffff) + (sum >> 16);
  }
  ip[10] = static_cast<std::uint8_t>(~sum >> 8);
  ip[11] = static_cast<std::uint8_t>(~sum);
}

PacketBuilder webSyn(std::string_view src = "10.1.2.3", std::string_view dst = "198.51.100.10") {
  return std::move(PacketBuilder::ipv4(src, dst).tcp(40000, 80).syn().seq(1000).mss(1460));
}

class XdpReasons : public XdpEquivalence {
 protected:
  static constexpr std::int64_t kT0 = 500'000LL * 3600 * kNsPerSec + 12345;

  void SetUp() override {
    XdpEquivalence::SetUp();
    if (IsSkipped() || HasFatalFailure()) {
      return;
    }
    engine::EngineConfig cfg = equivalenceConfig(true);
    ASSERT_TRUE(cfg.protection.deny.add("10.9.0.0/16").has_value());
    ASSERT_TRUE(cfg.protection.allow.add("10.8.0.0/16").has_value());
    startBoth(cfg, kT0);
  }

  /// Runs `ip` (in an Ethernet frame) and checks the action and that exactly counter `c` moved.
  void expectReason(const Bytes& frame, std::uint32_t action, sg_xdp_counter c,
                    const std::string& what) {
    const Counters before = counters();
    const auto r = run(frame);
    EXPECT_EQ(r.action, action) << what;
    const Counters after = counters();
    for (std::size_t i = 0; i < SG_XDP_NCOUNTERS; ++i) {
      EXPECT_EQ(after[i] - before[i], i == static_cast<std::size_t>(c) ? 1U : 0U)
          << what << ": counter " << i;
    }
  }
  void expectReason(const PacketBuilder& b, std::uint32_t action, sg_xdp_counter c,
                    const std::string& what) {
    const Bytes ip = toBytes(b.build());
    expectReason(frameOf(ip, (ip[0] >> 4) == 6), action, c, what);
  }
};

TEST_F(XdpReasons, EachCounterHasItsCase) {
  expectReason(webSyn(), kXdpTx, SG_XDP_TX_COOKIE, "plain SYN");
  expectReason(webSyn("10.9.3.4"), kXdpDrop, SG_XDP_DROP_DENIED, "denied SYN");
  expectReason(PacketBuilder::ipv4("10.9.3.4", "198.51.100.10").tcp(40000, 80).ack(5).seq(9),
               kXdpDrop, SG_XDP_DROP_DENIED, "denied ACK");
  const sg_xdp_svc_stats web = prog_->serviceCounters(0);
  EXPECT_EQ(web.syns_answered, 1U);
  EXPECT_EQ(web.bytes_answered, 44U);
  EXPECT_EQ(web.denied, 2U);
  EXPECT_EQ(web.denied_syns, 1U);
  EXPECT_EQ(web.denied_bytes, 44U + 40U);

  Bytes arp = frameOf(Bytes(28, 0), false);
  arp[12] = 0x08;
  arp[13] = 0x06;
  expectReason(arp, kXdpPass, SG_XDP_PASS_NOT_IP, "ARP");
  const Bytes syn_ip = toBytes(webSyn().build());
  Bytes qinq = frameOf(syn_ip, false, 7);
  qinq.insert(qinq.begin() + 16, {0x81, 0x00, 0x00, 0x08});
  expectReason(qinq, kXdpPass, SG_XDP_PASS_NOT_IP, "two VLAN tags");
  Bytes udp = syn_ip;
  udp[9] = 17;
  fixIpv4Checksum(udp);
  expectReason(frameOf(udp, false), kXdpPass, SG_XDP_PASS_NOT_TCP, "UDP");
  expectReason(webSyn().fragment(0, true), kXdpPass, SG_XDP_PASS_IP_UNUSUAL, "first fragment");
  expectReason(PacketBuilder::ipv6("2a00::1", "2001:db8:5::10")
                   .ipv6ExtensionHeader(0, {0, 0, 0, 0, 0, 0})
                   .tcp(40000, 80)
                   .syn()
                   .seq(1),
               kXdpPass, SG_XDP_PASS_IP_UNUSUAL, "hop-by-hop header");
  Bytes badsum = syn_ip;
  badsum[8] ^= 1;  // TTL changed, checksum not
  expectReason(frameOf(badsum, false), kXdpPass, SG_XDP_PASS_MALFORMED, "IPv4 checksum");
  Bytes cut = frameOf(syn_ip, false);
  cut.resize(cut.size() - 1);
  expectReason(cut, kXdpPass, SG_XDP_PASS_MALFORMED, "truncated");
  expectReason(PacketBuilder::ipv4("10.1.2.3", "198.51.100.10").tcp(40000, 80).ack(5).seq(9),
               kXdpPass, SG_XDP_PASS_NOT_SYN, "ACK");
  expectReason(webSyn().flags(kSynFlag | 0x08), kXdpPass, SG_XDP_PASS_NOT_SYN, "SYN|PSH");
  expectReason(webSyn("10.1.2.3", "198.51.100.10").tcp(40000, 81), kXdpPass, SG_XDP_PASS_NO_SERVICE,
               "port");
  expectReason(webSyn("10.1.2.3", "198.18.0.1"), kXdpPass, SG_XDP_PASS_NO_SERVICE, "address");
  expectReason(webSyn("10.8.1.1"), kXdpPass, SG_XDP_PASS_ALLOWED, "allow-listed");
  expectReason(webSyn("198.51.100.77"), kXdpPass, SG_XDP_PASS_SOURCE, "source in a service");
  expectReason(webSyn().rawOptions({2, 4, 5, 180, 2, 4, 5, 180}), kXdpPass, SG_XDP_PASS_OPTIONS,
               "duplicate MSS");
  expectReason(webSyn().rawOptions({2, 5, 5, 180}), kXdpPass, SG_XDP_PASS_OPTIONS, "MSS length");
  expectReason(webSyn().rawOptions({8, 10, 1, 2}), kXdpPass, SG_XDP_PASS_OPTIONS, "overrun");
  expectReason(webSyn().payload(10), kXdpPass, SG_XDP_PASS_DATA, "SYN with data");
  expectReason(webSyn().badChecksum(), kXdpPass, SG_XDP_PASS_CHECKSUM, "TCP checksum");

  const std::vector<std::pair<sg_xdp_svc_action, sg_xdp_counter>> actions{
      {SG_XDP_SVC_PASS_NORMAL, SG_XDP_PASS_NORMAL},
      {SG_XDP_SVC_PASS_OFF, SG_XDP_PASS_OFF},
      {SG_XDP_SVC_PASS_MONITOR, SG_XDP_PASS_MONITOR},
      {SG_XDP_SVC_PASS_LIMITS, SG_XDP_PASS_LIMITS}};
  for (const auto& [action, counter] : actions) {
    writeService(0, action, false);
    expectReason(webSyn(), kXdpPass, counter, "service action " + std::to_string(action));
    // Not dropping (monitor, dry run): a deny-listed source passes too.
    expectReason(webSyn("10.9.3.4"), kXdpPass, counter, "denied, not dropping");
  }
  writeService(0, SG_XDP_SVC_COOKIE);

  // Stale: the program's key period is two behind the clock.
  setTime(kT0 + 2 * 3600 * kNsPerSec);
  expectReason(webSyn(), kXdpPass, SG_XDP_PASS_NOT_READY, "stale key period");
  setTime(kT0 + 3599 * kNsPerSec);
  expectReason(webSyn(), kXdpTx, SG_XDP_TX_COOKIE, "next period (keys[1])");
  prog_->setReady(false);
  expectReason(webSyn(), kXdpPass, SG_XDP_PASS_NOT_READY, "not ready");
  prog_->setReady(true);
  expectReason(webSyn(), kXdpTx, SG_XDP_TX_COOKIE, "ready again");
}

TEST_F(XdpReasons, CheckSourceOffAnswersServiceSources) {
  writeState(kT0, false);
  expectReason(webSyn("198.51.100.77"), kXdpTx, SG_XDP_TX_COOKIE, "source in a service");
}

/// The engine never matches an IPv4 address against an IPv6 prefix, ::/0 included; nor may the
/// program (whose maps keep IPv4 as ::ffff:a.b.c.d). IPv4-mapped IPv6 packets are the engine's.
TEST_F(XdpReasons, IpV6AllDoesNotHoldIpV4) {
  engine::EngineConfig cfg = equivalenceConfig(true);
  cfg.protection.services.push_back(service("all6", {"::/0"}, {{9090, 9090}}));
  ASSERT_TRUE(cfg.protection.deny.add("::/0").has_value());
  ASSERT_TRUE(cfg.protection.allow.add("::/1").has_value());
  startBoth(cfg, kT0);
  expectReason(webSyn(), kXdpTx, SG_XDP_TX_COOKIE, "IPv4 SYN, IPv6 ::/0 deny and allow");
  expectReason(webSyn("10.1.2.3", "198.51.100.10").tcp(40000, 9090), kXdpPass,
               SG_XDP_PASS_NO_SERVICE, "IPv4 address under ::/0");
  expectReason(webSyn("198.18.0.1", "198.51.100.10").tcp(40000, 80), kXdpTx, SG_XDP_TX_COOKIE,
               "IPv4 source under ::/0 (check_source)");
  expectReason(PacketBuilder::ipv6("2a00::1", "::ffff:198.51.100.10").tcp(40000, 80).syn().seq(1),
               kXdpPass, SG_XDP_PASS_IP_UNUSUAL, "IPv4-mapped destination");
  expectReason(PacketBuilder::ipv6("8000::1", "2001:db8:5::10").tcp(40000, 9090).syn().seq(1),
               kXdpDrop, SG_XDP_DROP_DENIED, "IPv6 source in ::/0 deny");
}

TEST_F(XdpReasons, TooManyPortRowsPass) {
  engine::EngineConfig cfg = equivalenceConfig(true);
  auto& ports = cfg.protection.services[0].ports;
  ports.clear();
  for (std::uint16_t p = 0; p < SG_XDP_MAX_PER_PREFIX + 1; ++p) {
    ports.push_back(
        {static_cast<std::uint16_t>(1000 + 2 * p), static_cast<std::uint16_t>(1000 + 2 * p)});
  }
  startBoth(cfg, kT0);
  expectReason(webSyn().tcp(40000, 1000), kXdpPass, SG_XDP_PASS_OVERFLOW, "17 port rows");
}

TEST_F(XdpReasons, CountersGoToTheInterfaceSlot) {
  const std::array<int, 2> ifs{7, 1};  // 1: lo, which BPF_PROG_TEST_RUN accepts as ingress
  prog_->setInterfaces(ifs);
  // All four options: the SYN-ACK is as long as the SYN (no bpf_xdp_adjust_tail, which a real
  // device's receive queue may not allow).
  const Bytes ip = toBytes(webSyn().wscale(7).sackPermitted().timestamps(5, 0).build());
  const auto r = prog_->testRun(frameOf(ip, false), 1, 1);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->action, kXdpTx);
  for (std::size_t i = 0; i < SG_XDP_NCOUNTERS; ++i) {
    EXPECT_EQ(prog_->counters(1)[i], i == SG_XDP_TX_COOKIE ? 1U : 0U) << "counter " << i;
  }
  EXPECT_EQ(prog_->counters(1)[SG_XDP_TX_COOKIE], 1U);
  EXPECT_EQ(prog_->counters(SG_XDP_MAX_IFACES)[SG_XDP_TX_COOKIE], 0U);
}

/// Overlapping service prefixes (ports apart): the program's service is ServiceMap::find's.
TEST_F(XdpReasons, FirstMatchingServiceAsServiceMap) {
  engine::EngineConfig cfg;
  auto& svcs = cfg.protection.services;
  svcs.push_back(service("a", {"10.200.0.0/16", "2001:db8:a::/48"}, {{80, 80}}));
  svcs.push_back(service("b", {"10.200.5.0/24", "2001:db8:a:5::/64"}, {{81, 90}, {443, 443}}));
  svcs.push_back(service("c", {"10.0.0.0/8", "2001:db8::/32"}, {{100, 200}}));
  svcs.push_back(service("d", {"10.200.5.128/25"}, {{22, 22}, {95, 95}}));
  for (std::size_t i = 0; i < svcs.size(); ++i) {
    svcs[i].mss_override = static_cast<std::uint16_t>(1000 + i);  // the SYN-ACK names it
  }
  startBoth(cfg, kT0, false);
  auto map = engine::ServiceMap::create(svcs);
  ASSERT_TRUE(map.has_value());
  std::mt19937_64 rng(7);
  static constexpr std::array<std::uint16_t, 11> kPorts{80,  81, 85,  90,  91, 95,
                                                        443, 22, 150, 200, 201};
  for (int i = 0; i < 4000; ++i) {
    const bool v6 = i % 2 == 1;
    const std::uint16_t port = kPorts[rng() % kPorts.size()];
    std::string dst;
    if (v6) {
      dst = i % 6 == 1 ? "2001:db8:a:5::" + std::to_string(rng() % 9000 + 1)
                       : "2001:db8:" + std::string(i % 4 == 1 ? "a" : "b") +
                             "::" + std::to_string(rng() % 9000 + 1);
    } else {
      const std::uint32_t base =
          i % 3 == 0 ? 0x0ac80500U : (i % 3 == 1 ? 0x0ac80000U : 0x0a000000U);
      dst = v4Text(base | static_cast<std::uint32_t>(rng() & (i % 3 == 0 ? 0xff : 0xffff)));
    }
    const std::string src = v6 ? "2a00::1" : "192.0.2.1";
    auto b = (v6 ? PacketBuilder::ipv6(src, dst) : PacketBuilder::ipv4(src, dst));
    b.tcp(40000, port).syn().seq(1).mss(1460);
    const Bytes ip = toBytes(b.build());
    const auto r = run(frameOf(ip, v6));
    const auto addr = engine::IpAddress::parse(dst);
    ASSERT_TRUE(addr.has_value()) << dst;
    const std::uint32_t want = map->find(*addr, port);
    if (want == engine::ServiceMap::kNone) {
      ASSERT_EQ(r.action, kXdpPass) << dst << " port " << port;
      continue;
    }
    ASSERT_EQ(r.action, kXdpTx) << dst << " port " << port;
    const std::size_t tcp = 14 + (v6 ? 40 : 20);
    ASSERT_GE(r.out.size(), tcp + 24);
    const unsigned mss = (unsigned{r.out[tcp + 22]} << 8) | r.out[tcp + 23];
    EXPECT_EQ(mss, 1000 + want) << dst << " port " << port;
  }
}

/// Malformed and mutated frames: never XDP_TX, unless the engine itself answers the very same
/// IP packet with the very same SYN-ACK (a mutation can leave a valid SYN).
TEST_F(XdpEquivalence, MalformedFramesAreNeverAnswered) {
  std::mt19937_64 rng(99);
  const std::int64_t t0 = 500'000LL * 3600 * kNsPerSec + 777;
  startBoth(equivalenceConfig(true), t0);
  int frames = 0;
  int answered = 0;
  const auto judge = [&](const Bytes& frame, bool must_pass, const std::string& what) {
    ++frames;
    const auto r = run(frame);
    ASSERT_NE(r.action, kXdpAborted) << what;
    if (r.action != kXdpTx) {
      return;
    }
    ASSERT_FALSE(must_pass) << what << ": answered";
    // Answered: the frame must hold a SYN the engine answers identically.
    const bool vlan = frame[12] == 0x81;
    const std::size_t l3 = vlan ? 18 : 14;
    const bool v6 = frame[l3 - 2] == 0x86;
    Bytes ip(frame.begin() + static_cast<std::ptrdiff_t>(l3), frame.end());
    const std::size_t len =
        v6 ? 40U + ((std::size_t{ip[4]} << 8) | ip[5]) : (std::size_t{ip[2]} << 8) | ip[3];
    ip.resize(len);
    const Bytes want = engineAnswer(ip);
    ASSERT_FALSE(want.empty()) << what << ": the engine would not answer";
    ASSERT_EQ(r.out, expectedFrame(want, v6, vlan ? ((frame[14] << 8) | frame[15]) : -1)) << what;
    ++answered;
  };
  for (int base = 0; base < 40; ++base) {
    const RandomSyn s = randomSyn(rng, cfg_);
    const Bytes frame = frameOf(s.ip, s.v6, s.vlan);
    const std::size_t l3 = s.vlan >= 0 ? 18 : 14;
    // Every truncation (BPF_PROG_TEST_RUN refuses frames shorter than an Ethernet header).
    for (std::size_t n = 14; n < frame.size(); ++n) {
      judge(Bytes(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(n)), true,
            "truncated to " + std::to_string(n));
    }
    // Flags other than a plain SYN.
    for (int f = 0; f < 256; ++f) {
      if ((f & ~(kEceFlag | kCwrFlag)) == kSynFlag) {
        continue;
      }
      Bytes m = s.ip;
      m[(s.v6 ? 40 : 20) + 13] = static_cast<std::uint8_t>(f);
      judge(frameOf(m, s.v6, s.vlan), true, "flags " + std::to_string(f));
    }
    // Header fields: IHL, versions, lengths, fragments, next header, data offset, checksum.
    for (int k = 0; k < 60; ++k) {
      Bytes m = s.ip;
      bool must = true;
      if (!s.v6) {
        switch (k % 6) {
          case 0:
            m[0] = static_cast<std::uint8_t>(0x40 | (rng() % 16));
            must = (m[0] & 0x0f) != 5;
            break;
          case 1:
            m[6] = static_cast<std::uint8_t>(rng() % 0x40 | 0x01);  // an offset or MF
            break;
          case 2:
            m[3] = static_cast<std::uint8_t>(m[3] + 1 + rng() % 40);  // longer than the frame
            break;
          case 3:
            m[20 + 12] = static_cast<std::uint8_t>((rng() % 5) << 4);  // data offset < 5
            break;
          case 4:
            m[9] = static_cast<std::uint8_t>(rng() % 256);
            must = m[9] != 6;
            break;
          default:
            m[20 + 16] ^= static_cast<std::uint8_t>(1 + rng() % 255);  // TCP checksum
            break;
        }
        if (k % 6 != 5) {
          fixIpv4Checksum(m);
        }
      } else {
        switch (k % 4) {
          case 0:
            m[6] = static_cast<std::uint8_t>(rng() % 256);
            must = m[6] != 6;
            break;
          case 1:
            m[5] = static_cast<std::uint8_t>(m[5] + 1 + rng() % 40);
            break;
          case 2:
            m[40 + 12] = static_cast<std::uint8_t>((rng() % 5) << 4);
            break;
          default:
            m[40 + 17] ^= static_cast<std::uint8_t>(1 + rng() % 255);
            break;
        }
      }
      judge(frameOf(m, s.v6, s.vlan), must, "header mutation " + std::to_string(k));
    }
    // Random option bytes (the parsers must agree), and payloads.
    for (int k = 0; k < 100; ++k) {
      Bytes opts(4 * (1 + rng() % 10));
      for (auto& b : opts) {
        b = static_cast<std::uint8_t>(rng() % 4 == 0 ? rng() % 12 : rng());
      }
      auto b = (s.v6 ? PacketBuilder::ipv6(s.src, s.dst) : PacketBuilder::ipv4(s.src, s.dst));
      b.tcp(s.sport, s.dport).syn().seq(s.isn).rawOptions(opts);
      if (k % 10 == 0) {
        b.payload(1 + rng() % 100);
      }
      judge(frameOf(toBytes(b.build()), s.v6, s.vlan), k % 10 == 0, "options " + std::to_string(k));
    }
    // Two VLAN tags, random bytes.
    Bytes qinq = frameOf(s.ip, s.v6, 9);
    qinq.insert(qinq.begin() + 12, {0x81, 0x00, 0x00, 0x05});
    judge(qinq, true, "two VLAN tags");
    for (int k = 0; k < 20; ++k) {
      Bytes junk(14 + rng() % 120);
      for (auto& b : junk) {
        b = static_cast<std::uint8_t>(rng());
      }
      judge(junk, true, "random bytes");
      Bytes tail_junk(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(l3));
      tail_junk.resize(l3 + rng() % 80);
      for (std::size_t i = l3; i < tail_junk.size(); ++i) {
        tail_junk[i] = static_cast<std::uint8_t>(rng());
      }
      judge(tail_junk, true, "random IP bytes");
    }
    if (HasFatalFailure()) {
      return;
    }
  }
  EXPECT_GE(frames, 10'000);
  EXPECT_GT(answered, 0);  // some random options were valid: those were compared
  std::cout << "malformed/mutated frames: " << frames << ", answered (and equal): " << answered
            << "\n";
}

/// The engine learns a service's profile from the server's SYN-ACK of a proxied handshake
/// (Protector::learnFrom): with SACK, window scaling or timestamps off, or ECN on, the program
/// answers with that profile's SYN-ACK too.
TEST_F(XdpEquivalence, LearnedProfilesGiveTheSameSynAck) {
  std::mt19937_64 rng(4242);
  const std::int64_t t0 = 500'000LL * 3600 * kNsPerSec + 999;
  struct Learned {
    std::uint16_t mss;
    int wscale;  // < 0: none
    bool sack;
    bool ts;
    bool ecn;
  };
  const std::array<Learned, 4> profiles{{{1380, 9, false, true, true},
                                         {1200, -1, true, true, false},
                                         {1460, 4, true, false, true},
                                         {0, 14, false, true, true}}};
  int compared = 0;
  for (const Learned& l : profiles) {
    std::int64_t now = t0;
    startBoth(equivalenceConfig(false), now);
    // A proxied handshake to "web" (service 0): SYN, ACK, then the server's SYN-ACK.
    const auto syn = PacketBuilder::ipv4("10.7.7.7", "198.51.100.5")
                         .tcp(41000, 80)
                         .syn()
                         .seq(500)
                         .mss(1460)
                         .sackPermitted()
                         .timestamps(77, 0)
                         .wscale(7);
    const Bytes synack = engineAnswer(toBytes(syn.build()));
    ASSERT_FALSE(synack.empty());
    RandomSyn client;
    client.src = "10.7.7.7";
    client.dst = "198.51.100.5";
    client.sport = 41000;
    client.dport = 80;
    client.isn = 500;
    const Bytes ack = clientAck(client, synack, rng);
    sink_.clear();
    std::vector<std::byte> ack_b(ack.size());
    std::transform(ack.begin(), ack.end(), ack_b.begin(),
                   [](std::uint8_t x) { return std::byte{x}; });
    (void)eng().process(ack_b);
    engine::Segment to_server;
    bool found = false;
    for (const auto& pkt : sink_.packets()) {
      if (engine::parseSegment(pkt, to_server) == engine::ParseError::kNone &&
          (to_server.flags & (kSynFlag | kAckFlag)) == kSynFlag) {
        found = true;
        break;
      }
    }
    ASSERT_TRUE(found) << "the engine opened no connection to the server";
    auto sa = PacketBuilder::ipv4("198.51.100.5", "10.7.7.7")
                  .tcp(80, 41000)
                  .flags(static_cast<std::uint8_t>(kSynFlag | kAckFlag | (l.ecn ? kEceFlag : 0)))
                  .seq(123456)
                  .ack(to_server.seq.raw() + 1)
                  .window(64000);
    if (l.mss != 0) {
      sa.mss(l.mss);
    }
    if (l.wscale >= 0) {
      sa.wscale(static_cast<std::uint8_t>(l.wscale));
    }
    if (l.sack) {
      sa.sackPermitted();
    }
    if (l.ts) {
      sa.timestamps(999, to_server.options.ts_val);
    }
    (void)send(sa);
    const engine::ServerProfile p = eng().cookieProfile(0);
    ASSERT_TRUE(p.learned);
    EXPECT_EQ(p.sack_permitted, l.sack);
    EXPECT_EQ(p.timestamps, l.ts);
    EXPECT_EQ(p.ecn, l.ecn);
    writeService(0, SG_XDP_SVC_COOKIE);
    for (int i = 0; i < 5000; ++i) {
      now += static_cast<std::int64_t>(rng() % 50'000'000);
      setTime(now);
      RandomSyn s = randomSyn(rng, cfg_);
      if (cfg_.protection.services[0].addresses.contains(*engine::IpAddress::parse(s.dst)) ==
          false) {
        continue;  // only "web" learned
      }
      const auto r = run(frameOf(s.ip, s.v6, s.vlan, s.pad));
      const Bytes want = engineAnswer(s.ip);
      ASSERT_FALSE(want.empty());
      ASSERT_EQ(r.action, kXdpTx);
      ASSERT_EQ(r.out, expectedFrame(want, s.v6, s.vlan)) << "learned profile, SYN " << i;
      ++compared;
    }
  }
  EXPECT_GT(compared, 4000);
}

}  // namespace
}  // namespace synguard::testing
