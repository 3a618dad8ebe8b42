// End-to-end tests of the SYN-cookie proxy: a simulated client and server (PacketBuilder) drive
// whole connections through an engine in cookie mode; every packet the engine emits or
// rewrites is parsed back and checked field by field, checksums included.

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "engine/engine.h"
#include "engine/packet/checksum.h"
#include "tests/support/engine_harness.h"

namespace synguard::engine {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::PacketBuilder;

constexpr std::uint32_t kClientIsn = 1000;
constexpr std::uint32_t kServerIsn = 900000000;  // far from the cookie: translation shows
constexpr std::uint32_t kClientTs = 5000;
constexpr std::uint32_t kServerTs = 777777;

/// A packet the engine emitted or rewrote, parsed, with both checksums verified.
struct Parsed {
  Segment seg;
  std::vector<std::byte> bytes;
};

Parsed parseChecked(const std::vector<std::byte>& bytes) {
  Parsed p{{}, bytes};
  EXPECT_EQ(parseSegment(p.bytes, p.seg), ParseError::kNone);
  EXPECT_EQ(tcpChecksum(p.bytes, p.seg.tcp_offset, p.bytes.size() - p.seg.tcp_offset), 0)
      << "TCP checksum";
  if (p.seg.ip_version == 4) {
    EXPECT_EQ(internetChecksum(std::span<const std::byte>(p.bytes.data(), 20)), 0) << "IP";
  }
  return p;
}

struct Options {
  bool ts = true;
  bool ws = true;
  bool sack = true;
};

std::string name(const Options& o) {
  return std::string(o.ts ? "TS" : "noTS") + (o.ws ? "_WS" : "_noWS") +
         (o.sack ? "_SACK" : "_noSACK");
}

class ProxyTest : public ::testing::Test, protected testing::EngineHarness {
 protected:
  ProxyTest()
      : EngineHarness(testing::testSecrets(SipKey{0x0123456789abcdefULL, 0xfedcba9876543210ULL})) {}

  static constexpr const char* kClient = "192.0.2.10";
  static constexpr const char* kServer = "198.51.100.1";
  static constexpr std::uint16_t kCport = 40000;
  static constexpr std::uint16_t kSport = 443;

  static EngineConfig config(ProtectionMode mode = ProtectionMode::kAlways) {
    EngineConfig cfg;
    cfg.table_capacity = 1024;
    ServiceConfig s = testing::webService(mode, {{443, 443}, {8000, 8100}});
    s.thresholds.syn_rate_on = 1000;
    s.thresholds.syn_rate_off = 100;
    cfg.protection.services.push_back(s);
    cfg.protection.proxy.capacity = 64;
    cfg.protection.proxy.early_segment_buffers = 16;
    return cfg;
  }

  void SetUp() override { start(config()); }

  PacketBuilder c2s() const { return PacketBuilder::ipv4(kClient, kServer).tcp(cport_, kSport); }
  PacketBuilder s2c() const { return PacketBuilder::ipv4(kServer, kClient).tcp(kSport, cport_); }
  FlowKey tuple() const {
    return FlowKey{*IpAddress::parse(kClient), *IpAddress::parse(kServer), cport_, kSport};
  }
  std::uint16_t cport_ = kCport;  ///< the client port of the packets built

  /// Pops the single packet emitted since the last call, checking its direction.
  Parsed emitted(Direction dir) {
    EXPECT_EQ(sink_.packets().size(), 1U);
    if (sink_.packets().empty()) {
      return {};
    }
    EXPECT_EQ(sink_.directions()[0], dir);
    Parsed p = parseChecked(sink_.packets()[0]);
    sink_.clear();
    return p;
  }
  std::uint64_t stat(VerdictReason r, bool was_dropped = true) const {
    return was_dropped ? dropped(r) : accepted(r);
  }

  PacketBuilder clientSyn(const Options& o) const {
    PacketBuilder b = c2s().syn().seq(kClientIsn).mss(1460).window(64240);
    if (o.sack) {
      b.sackPermitted();
    }
    if (o.ts) {
      b.timestamps(kClientTs, 0);
    }
    if (o.ws) {
      b.wscale(7);
    }
    return b;
  }

  /// Client SYN -> our cookie SYN-ACK (checked); returns it.
  Parsed cookieSynAck(const Options& o) {
    EXPECT_EQ(send(clientSyn(o)), Verdict::drop(VerdictReason::kCookieSent));
    Parsed sa = emitted(Direction::kToClient);
    const Segment& s = sa.seg;
    EXPECT_EQ(s.src, *IpAddress::parse(kServer));
    EXPECT_EQ(s.dst, *IpAddress::parse(kClient));
    EXPECT_EQ(s.src_port, kSport);
    EXPECT_EQ(s.dst_port, cport_);
    EXPECT_EQ(s.flags, kSyn | kAck);
    EXPECT_EQ(s.ack.raw(), kClientIsn + 1);  // SYN consumes a sequence number
    EXPECT_TRUE(s.options.has_mss);
    EXPECT_EQ(s.options.mss, 1460);
    EXPECT_EQ(s.window, 0);  // held until the server is ready
    EXPECT_EQ(s.options.has_timestamps, o.ts);
    // Without timestamps the cookie cannot remember window scale or SACK: neither is offered.
    EXPECT_EQ(s.options.has_wscale, o.ts && o.ws);
    EXPECT_EQ(s.options.sack_permitted, o.ts && o.sack);
    if (o.ts) {
      EXPECT_EQ(s.options.ts_ecr, kClientTs);
    }
    return sa;
  }

  /// The client's final ACK for `sa` (our SYN-ACK).
  PacketBuilder clientAck(const Parsed& sa, const Options& o, std::uint16_t window = 502) const {
    PacketBuilder b = c2s().seq(kClientIsn + 1).ack(sa.seg.seq.raw() + 1).window(window);
    if (o.ts) {
      b.timestamps(kClientTs + 10, sa.seg.options.ts_val);
    }
    return b;
  }

  /// The server's SYN-ACK to our SYN.
  PacketBuilder serverSynAck(const Parsed& syn, std::uint8_t server_ws = 7, bool server_ts = true,
                             std::uint16_t window = 65160) const {
    PacketBuilder b =
        s2c().syn().seq(kServerIsn).ack(syn.seg.seq.raw() + 1).window(window).mss(1460);
    if (syn.seg.options.sack_permitted) {
      b.sackPermitted();
    }
    if (syn.seg.options.has_timestamps && server_ts) {
      b.timestamps(kServerTs, syn.seg.options.ts_val);
    }
    if (syn.seg.options.has_wscale) {
      b.wscale(server_ws);
    }
    return b;
  }

  struct Joined {
    Parsed synack;      ///< ours, to the client
    Parsed server_syn;  ///< ours, to the server
    Parsed server_ack;  ///< ours, to the server
    Parsed window_update;
  };

  /// The whole proxied handshake; the client RTT is `rtt` (clock advanced between SYN-ACK and
  /// the client's ACK).
  Joined join(const Options& o, milliseconds rtt = milliseconds(0), std::uint8_t server_ws = 7,
              bool server_ts = true) {
    Joined j;
    j.synack = cookieSynAck(o);
    clock_.advance(rtt);
    EXPECT_EQ(send(clientAck(j.synack, o)), Verdict::drop(VerdictReason::kProxyHandshake));
    j.server_syn = emitted(Direction::kToServer);
    EXPECT_EQ(send(serverSynAck(j.server_syn, server_ws, server_ts)),
              Verdict::drop(VerdictReason::kProxyHandshake));
    if (rtt.count() >= 1 && o.ts) {
      EXPECT_TRUE(sink_.packets().empty()) << "the ACK to the server waits out the client RTT";
      clock_.advance(rtt);
      eng().expire();
    }
    EXPECT_EQ(sink_.packets().size(), 2U);
    if (sink_.packets().size() == 2) {
      EXPECT_EQ(sink_.directions()[0], Direction::kToServer);
      EXPECT_EQ(sink_.directions()[1], Direction::kToClient);
      j.server_ack = parseChecked(sink_.packets()[0]);
      j.window_update = parseChecked(sink_.packets()[1]);
    }
    sink_.clear();
    return j;
  }
};

class ProxyOptionsTest : public ProxyTest, public ::testing::WithParamInterface<Options> {};

TEST_P(ProxyOptionsTest, WholeConnectionIsJoinedAndTranslated) {
  const Options o = GetParam();
  const Joined j = join(o);
  const std::uint32_t cookie = j.synack.seg.seq.raw();

  // Our SYN to the server: the client's ISN and what it offered (MSS from the cookie's table).
  const Segment& syn = j.server_syn.seg;
  EXPECT_EQ(syn.flags, kSyn);
  EXPECT_EQ(syn.src, *IpAddress::parse(kClient));
  EXPECT_EQ(syn.src_port, kCport);
  EXPECT_EQ(syn.dst_port, kSport);
  EXPECT_EQ(syn.seq.raw(), kClientIsn);
  EXPECT_EQ(syn.options.mss, 1460);
  EXPECT_EQ(syn.options.has_wscale, o.ts && o.ws);
  if (syn.options.has_wscale) {
    EXPECT_EQ(syn.options.wscale, 7);
  }
  EXPECT_EQ(syn.options.sack_permitted, o.ts && o.sack);
  EXPECT_EQ(syn.options.has_timestamps, o.ts);
  if (o.ts) {
    EXPECT_EQ(syn.options.ts_val, kClientTs + 10);
  }

  // Our ACK to the server completes its handshake.
  const Segment& ack = j.server_ack.seg;
  EXPECT_EQ(ack.flags, kAck);
  EXPECT_EQ(ack.seq.raw(), kClientIsn + 1);
  EXPECT_EQ(ack.ack.raw(), kServerIsn + 1);
  if (o.ts) {
    EXPECT_EQ(ack.options.ts_ecr, kServerTs);
  }
  // The window update releases the client: same sequence point, the server's window.
  const Segment& wu = j.window_update.seg;
  EXPECT_EQ(wu.flags, kAck);
  EXPECT_EQ(wu.seq.raw(), cookie + 1);
  EXPECT_EQ(wu.ack.raw(), kClientIsn + 1);
  EXPECT_EQ(wu.window, (o.ts && o.ws) ? 65160 >> 7 : 65160);
  if (o.ts) {
    EXPECT_EQ(wu.options.ts_val, j.synack.seg.options.ts_val);
  }

  // Data client -> server: ACK number into the server's space, TSecr onto the server's clock.
  const std::uint32_t seq_delta = kServerIsn - cookie;
  PacketBuilder data = c2s().seq(kClientIsn + 1).ack(cookie + 1).psh().payload(100).window(502);
  if (o.ts) {
    data.timestamps(kClientTs + 20, j.synack.seg.options.ts_val);
  }
  auto [v1, b1] = pass(data);
  EXPECT_EQ(v1.action, Action::kAccept);
  EXPECT_EQ(v1.reason, VerdictReason::kProxied);
  EXPECT_TRUE(v1.rewritten);
  const Parsed d1 = parseChecked(b1);
  EXPECT_EQ(d1.seg.seq.raw(), kClientIsn + 1);
  EXPECT_EQ(d1.seg.ack.raw(), kServerIsn + 1);
  EXPECT_EQ(d1.seg.payload_len, 100U);
  if (o.ts) {
    EXPECT_EQ(d1.seg.options.ts_val, kClientTs + 20);
    EXPECT_EQ(d1.seg.options.ts_ecr, kServerTs);
  }

  // Data server -> client: sequence number into the cookie's space, TSval continued.
  PacketBuilder reply =
      s2c().seq(kServerIsn + 1).ack(kClientIsn + 101).psh().payload(300).window(500);
  if (o.ts) {
    reply.timestamps(kServerTs + 3, kClientTs + 20);
  }
  auto [v2, b2] = pass(reply);
  EXPECT_EQ(v2.reason, VerdictReason::kProxied);
  EXPECT_TRUE(v2.rewritten);
  const Parsed d2 = parseChecked(b2);
  EXPECT_EQ(d2.seg.seq.raw(), cookie + 1);
  EXPECT_EQ(d2.seg.ack.raw(), kClientIsn + 101);
  EXPECT_EQ(d2.seg.window, 500);  // same shift on both sides
  if (o.ts) {
    EXPECT_EQ(d2.seg.options.ts_val, j.synack.seg.options.ts_val + 3);
    EXPECT_EQ(d2.seg.options.ts_ecr, kClientTs + 20);
  }
  EXPECT_EQ(seq_delta, d1.seg.ack.raw() - (cookie + 1));

  // Close: client FIN, server ACK+FIN, client last ACK: TIME-WAIT in the tracker.
  auto [v3, b3] = pass(c2s().seq(kClientIsn + 101).ack(cookie + 301).fin());
  EXPECT_EQ(v3.reason, VerdictReason::kProxied);
  EXPECT_EQ(parseChecked(b3).seg.ack.raw(), kServerIsn + 301);
  auto [v4, b4] = pass(s2c().seq(kServerIsn + 301).ack(kClientIsn + 102).fin());
  EXPECT_EQ(v4.reason, VerdictReason::kProxied);
  EXPECT_EQ(parseChecked(b4).seg.seq.raw(), cookie + 301);
  auto [v5, b5] = pass(c2s().seq(kClientIsn + 102).ack(cookie + 302));
  EXPECT_EQ(v5.reason, VerdictReason::kProxied);
  EXPECT_EQ(parseChecked(b5).seg.ack.raw(), kServerIsn + 302);
  const FlowKey k{*IpAddress::parse(kClient), *IpAddress::parse(kServer), kCport, kSport};
  const auto f = eng().table().find(k);
  ASSERT_NE(f.idx, kNoIndex);
  EXPECT_EQ(eng().table().at(f.idx).state, TcpState::kTimeWait);
  EXPECT_EQ(eng().stats().invalid[static_cast<std::size_t>(InvalidReason::kOutOfState)], 0U);
  EXPECT_EQ(eng().stats().proxy_completed, 1U);
  EXPECT_TRUE(sink_.packets().empty());
  // Every packet got exactly one verdict, counted once (the tracker's view of proxied and
  // synthesized segments is not a second verdict).
  std::uint64_t verdicts = 0;
  for (std::size_t r = 0; r < kVerdictReasonCount; ++r) {
    verdicts += eng().stats().accepted[r] + eng().stats().dropped[r];
  }
  EXPECT_EQ(verdicts, eng().stats().packets);
}

INSTANTIATE_TEST_SUITE_P(AllOptionCombinations, ProxyOptionsTest,
                         ::testing::Values(Options{true, true, true}, Options{true, true, false},
                                           Options{true, false, true}, Options{true, false, false},
                                           Options{false, true, true}, Options{false, true, false},
                                           Options{false, false, true},
                                           Options{false, false, false}),
                         [](const ::testing::TestParamInfo<Options>& i) { return name(i.param); });

TEST_F(ProxyTest, SackBlocksAfterLossMoveIntoTheServersSpace) {
  const Joined j = join({});
  const std::uint32_t cookie = j.synack.seg.seq.raw();
  const std::uint32_t ts_val = j.synack.seg.options.ts_val;
  // Server sends three segments; the first is lost; the client SACKs the other two.
  for (std::uint32_t i = 1; i < 3; ++i) {
    auto [v, b] = pass(s2c()
                           .seq(kServerIsn + 1 + i * 1000)
                           .ack(kClientIsn + 1)
                           .payload(1000)
                           .timestamps(kServerTs + i, kClientTs));
    EXPECT_EQ(v.reason, VerdictReason::kProxied);
  }
  auto [v, b] = pass(c2s()
                         .seq(kClientIsn + 1)
                         .ack(cookie + 1)
                         .timestamps(kClientTs + 30, ts_val + 2)
                         .sack({{cookie + 1001, cookie + 3001}}));
  EXPECT_EQ(v.reason, VerdictReason::kProxied);
  const Parsed p = parseChecked(b);
  ASSERT_EQ(p.seg.options.sack_count, 1);
  EXPECT_EQ(p.seg.options.sack[0].left.raw(), kServerIsn + 1001);
  EXPECT_EQ(p.seg.options.sack[0].right.raw(), kServerIsn + 3001);
  EXPECT_EQ(p.seg.ack.raw(), kServerIsn + 1);
  EXPECT_EQ(p.seg.options.ts_ecr, kServerTs + 2);
}

TEST_F(ProxyTest, HalfCloseLetsTheCloseWaitSideKeepSending) {
  const Joined j = join({false, false, false});
  const std::uint32_t cookie = j.synack.seg.seq.raw();
  EXPECT_EQ(pass(c2s().seq(kClientIsn + 1).ack(cookie + 1).fin()).first.reason,
            VerdictReason::kProxied);
  EXPECT_EQ(pass(s2c().seq(kServerIsn + 1).ack(kClientIsn + 2)).first.reason,
            VerdictReason::kProxied);
  // The server, in CLOSE-WAIT, still sends data; the client acknowledges it.
  auto [v, b] = pass(s2c().seq(kServerIsn + 1).ack(kClientIsn + 2).payload(500));
  EXPECT_EQ(v.reason, VerdictReason::kProxied);
  EXPECT_EQ(parseChecked(b).seg.seq.raw(), cookie + 1);
  EXPECT_EQ(pass(c2s().seq(kClientIsn + 2).ack(cookie + 501)).first.reason,
            VerdictReason::kProxied);
  const FlowKey k{*IpAddress::parse(kClient), *IpAddress::parse(kServer), kCport, kSport};
  const Connection& c = eng().table().at(eng().table().find(k).idx);
  EXPECT_EQ(c.ep[0].state, TcpState::kFinWait2);
  EXPECT_EQ(c.ep[1].state, TcpState::kCloseWait);
  EXPECT_EQ(eng().stats().invalid[static_cast<std::size_t>(InvalidReason::kSeqAboveWindow)], 0U);
}

TEST_F(ProxyTest, ResetsBothWaysAreTranslated) {
  const Joined j = join({});
  const std::uint32_t cookie = j.synack.seg.seq.raw();
  auto [v, b] = pass(s2c().rst().seq(kServerIsn + 1).ack(kClientIsn + 1));
  EXPECT_EQ(v.reason, VerdictReason::kProxied);
  EXPECT_EQ(parseChecked(b).seg.seq.raw(), cookie + 1);  // exact: the client accepts it

  start(config());
  const Joined j2 = join({});
  const std::uint32_t cookie2 = j2.synack.seg.seq.raw();
  auto [v2, b2] = pass(c2s().rst().seq(kClientIsn + 1).ack(cookie2 + 1));
  EXPECT_EQ(v2.reason, VerdictReason::kProxied);
  const Parsed r = parseChecked(b2);
  EXPECT_EQ(r.seg.seq.raw(), kClientIsn + 1);
  EXPECT_EQ(r.seg.ack.raw(), kServerIsn + 1);
}

TEST_F(ProxyTest, BlindResetsDoNotAbortAProxiedHandshake) {
  // While the server's SYN-ACK is awaited, only a RST at the client's next sequence number
  // aborts (RFC 5961 §3.2); a blind attacker's guesses in or out of the window change nothing.
  const Options o;
  const Parsed sa = cookieSynAck(o);
  EXPECT_EQ(send(clientAck(sa, o)), Verdict::drop(VerdictReason::kProxyHandshake));
  const Parsed syn = emitted(Direction::kToServer);
  for (const std::uint32_t off : {1000U, 30000U, 0x40000000U, 0xfffffff0U}) {
    EXPECT_EQ(send(c2s().rst().seq(kClientIsn + 1 + off)),
              Verdict::drop(VerdictReason::kProxyHandshake));
    EXPECT_EQ(send(c2s().rst().seq(kClientIsn + 1 + off).ack(sa.seg.seq.raw() + 1)),
              Verdict::drop(VerdictReason::kProxyHandshake));
  }
  EXPECT_EQ(eng().proxies().size(), 1U);
  EXPECT_EQ(eng().stats().proxy_client_aborted, 0U);
  EXPECT_EQ(eng().stats().proxy_rst_ignored, 8U);
  EXPECT_TRUE(sink_.packets().empty());
  // The handshake still completes.
  EXPECT_EQ(send(serverSynAck(syn)), Verdict::drop(VerdictReason::kProxyHandshake));
  EXPECT_EQ(sink_.packets().size(), 2U);
  sink_.clear();
  EXPECT_EQ(eng().stats().proxy_completed, 1U);

  // The client's own RST, exactly at its next sequence number, aborts at once.
  start(config());
  const Parsed sa2 = cookieSynAck(o);
  EXPECT_EQ(send(clientAck(sa2, o)), Verdict::drop(VerdictReason::kProxyHandshake));
  emitted(Direction::kToServer);
  EXPECT_EQ(send(c2s().rst().seq(kClientIsn + 1)), Verdict::drop(VerdictReason::kProxyHandshake));
  EXPECT_EQ(eng().stats().proxy_client_aborted, 1U);
  EXPECT_EQ(eng().proxies().size(), 0U);
}

TEST_F(ProxyTest, ChallengeAckGamesLeaveAnEstablishedProxiedConnectionIntact) {
  // Blind RSTs and SYNs against an established proxied connection: each is translated and left
  // to the endpoint (which answers a challenge ACK, RFC 5961), the challenge ACK is translated
  // back, and the connection and its translation survive; the tracker does not close on them.
  const Joined j = join({});
  const std::uint32_t cookie = j.synack.seg.seq.raw();
  const FlowKey k{*IpAddress::parse(kClient), *IpAddress::parse(kServer), kCport, kSport};
  const auto state = [&] { return eng().table().at(eng().table().find(k).idx).state; };
  ASSERT_EQ(state(), TcpState::kEstablished);
  // A spoofed "client" RST inside the window but not exact, and one far outside it.
  for (const std::uint32_t off : {700U, 0x70000000U}) {
    auto [v, b] = pass(c2s().rst().seq(kClientIsn + 1 + off));
    EXPECT_EQ(v.reason, VerdictReason::kProxied);
    EXPECT_EQ(parseChecked(b).seg.seq.raw(), kClientIsn + 1 + off);  // client space = server's
  }
  // A spoofed "server" RST in the window: translated into the client's space, not exact there.
  {
    auto [v, b] = pass(s2c().rst().seq(kServerIsn + 1 + 900));
    EXPECT_EQ(v.reason, VerdictReason::kProxied);
    EXPECT_EQ(parseChecked(b).seg.seq.raw(), cookie + 1 + 900);
  }
  // A SYN on the established tuple (the client rebooted, or an attacker guessing).
  {
    auto [v, b] = pass(c2s().syn().seq(12345));
    EXPECT_EQ(v.action, Action::kAccept);
  }
  // The server's challenge ACK goes back to the client in the client's space.
  {
    auto [v, b] = pass(s2c().seq(kServerIsn + 1).ack(kClientIsn + 1));
    EXPECT_EQ(v.reason, VerdictReason::kProxied);
    const Parsed a = parseChecked(b);
    EXPECT_EQ(a.seg.seq.raw(), cookie + 1);
    EXPECT_EQ(a.seg.ack.raw(), kClientIsn + 1);
  }
  EXPECT_EQ(state(), TcpState::kEstablished);
  EXPECT_EQ(eng().proxies().size(), 1U);
  // Data still flows both ways, translated.
  {
    auto [v, b] = pass(c2s().seq(kClientIsn + 1).ack(cookie + 1).payload(100));
    EXPECT_EQ(v.reason, VerdictReason::kProxied);
    EXPECT_EQ(parseChecked(b).seg.ack.raw(), kServerIsn + 1);
  }
  {
    auto [v, b] = pass(s2c().seq(kServerIsn + 1).ack(kClientIsn + 101).payload(50));
    EXPECT_EQ(v.reason, VerdictReason::kProxied);
    EXPECT_EQ(parseChecked(b).seg.seq.raw(), cookie + 1);
  }
  // The real client's RST, exact, closes.
  pass(c2s().rst().seq(kClientIsn + 101));
  EXPECT_NE(state(), TcpState::kEstablished);
}

TEST_F(ProxyTest, RetransmittedFinalAckMakesNoSecondServerConnection) {
  const Options o;
  const Parsed sa = cookieSynAck(o);
  EXPECT_EQ(send(clientAck(sa, o)), Verdict::drop(VerdictReason::kProxyHandshake));
  const Parsed syn = emitted(Direction::kToServer);
  EXPECT_EQ(send(clientAck(sa, o)), Verdict::drop(VerdictReason::kProxyHandshake));
  EXPECT_TRUE(sink_.packets().empty()) << "a duplicate within the resend interval sends nothing";
  EXPECT_EQ(eng().stats().proxied_total, 1U);
  EXPECT_EQ(eng().proxies().size(), 1U);
  EXPECT_EQ(eng().stats().proxy_duplicate_acks, 1U);
  // The server answers once: one completion.
  EXPECT_EQ(send(serverSynAck(syn)), Verdict::drop(VerdictReason::kProxyHandshake));
  EXPECT_EQ(sink_.packets().size(), 2U);
  sink_.clear();
  // A late duplicate of the client's ACK is now just a proxied segment.
  auto [v, b] = pass(clientAck(sa, o));
  EXPECT_EQ(v.reason, VerdictReason::kProxied);
  EXPECT_EQ(parseChecked(b).seg.ack.raw(), kServerIsn + 1);
  EXPECT_EQ(eng().stats().proxy_completed, 1U);
}

TEST_F(ProxyTest, AValidatedCookieCountsOneCompletedHandshake) {
  const Options o;
  const Parsed sa = cookieSynAck(o);
  EXPECT_EQ(eng().service(0).handshakes_completed, 0U) << "a cookie sent is not a handshake";
  EXPECT_EQ(send(clientAck(sa, o)), Verdict::drop(VerdictReason::kProxyHandshake));
  const Parsed syn = emitted(Direction::kToServer);
  EXPECT_EQ(eng().service(0).cookies_validated, 1U);
  EXPECT_EQ(eng().stats().cookies_validated, 1U);
  EXPECT_EQ(eng().service(0).handshakes_completed, 1U);
  // The server's side of the proxied handshake completing is the same handshake.
  EXPECT_EQ(send(serverSynAck(syn)), Verdict::drop(VerdictReason::kProxyHandshake));
  EXPECT_EQ(eng().stats().proxy_completed, 1U);
  EXPECT_EQ(eng().service(0).handshakes_completed, 1U);
}

TEST_F(ProxyTest, ServerRefusalResetsTheClient) {
  const Options o;
  const Parsed sa = cookieSynAck(o);
  EXPECT_EQ(send(clientAck(sa, o)), Verdict::drop(VerdictReason::kProxyHandshake));
  emitted(Direction::kToServer);
  EXPECT_EQ(send(s2c().rst().seq(0).ack(kClientIsn + 1)),
            Verdict::drop(VerdictReason::kProxyHandshake));
  const Parsed rst = emitted(Direction::kToClient);
  EXPECT_EQ(rst.seg.flags, kRst | kAck);
  EXPECT_EQ(rst.seg.seq.raw(), sa.seg.seq.raw() + 1);  // the client's RCV.NXT exactly
  EXPECT_EQ(rst.seg.dst_port, kCport);
  EXPECT_EQ(eng().stats().proxy_refused, 1U);
  EXPECT_EQ(eng().proxies().size(), 0U);
}

TEST_F(ProxyTest, SilentServerGetsTheSynAgainThenTheClientIsReset) {
  const Options o;
  const Parsed sa = cookieSynAck(o);
  EXPECT_EQ(send(clientAck(sa, o)), Verdict::drop(VerdictReason::kProxyHandshake));
  const Parsed syn1 = emitted(Direction::kToServer);
  // The client, held at zero window, probes after its RTO: the SYN goes out again.
  clock_.advance(milliseconds(600));
  EXPECT_EQ(send(clientAck(sa, o)), Verdict::drop(VerdictReason::kProxyHandshake));
  const Parsed syn2 = emitted(Direction::kToServer);
  EXPECT_EQ(syn2.seg.seq, syn1.seg.seq);
  EXPECT_EQ(syn2.seg.flags, kSyn);
  EXPECT_EQ(eng().stats().proxy_syn_resent, 1U);
  // Nothing for the whole server timeout: RST to the client (and to the server, in case).
  clock_.advance(seconds(5));
  eng().expire();
  ASSERT_EQ(sink_.packets().size(), 2U);
  const Parsed to_client = parseChecked(sink_.packets()[0]);
  EXPECT_EQ(sink_.directions()[0], Direction::kToClient);
  EXPECT_EQ(to_client.seg.flags, kRst | kAck);
  EXPECT_EQ(to_client.seg.seq.raw(), sa.seg.seq.raw() + 1);
  const Parsed to_server = parseChecked(sink_.packets()[1]);
  EXPECT_EQ(to_server.seg.flags, kRst);
  EXPECT_EQ(to_server.seg.seq.raw(), kClientIsn + 1);
  EXPECT_EQ(eng().stats().proxy_server_timeout, 1U);
  EXPECT_EQ(eng().proxies().size(), 0U);
}

TEST_F(ProxyTest, ServerAckWaitsForTheClientsRoundTripTime) {
  const Options o;
  const Parsed sa = cookieSynAck(o);
  clock_.advance(milliseconds(40));  // client RTT 40 ms
  EXPECT_EQ(send(clientAck(sa, o)), Verdict::drop(VerdictReason::kProxyHandshake));
  const Parsed syn = emitted(Direction::kToServer);
  clock_.advance(milliseconds(1));  // server RTT 1 ms
  EXPECT_EQ(send(serverSynAck(syn)), Verdict::drop(VerdictReason::kProxyHandshake));
  EXPECT_TRUE(sink_.packets().empty());
  const auto next = eng().nextDeadline();
  ASSERT_TRUE(next.has_value());
  // Delayed by the measured 40 ms (to the cookie clock's millisecond), not microseconds.
  EXPECT_GE(*next - clock_.now(), milliseconds(39));
  EXPECT_LE(*next - clock_.now(), milliseconds(41));
  clock_.advance(milliseconds(30));
  eng().expire();
  EXPECT_TRUE(sink_.packets().empty());
  clock_.advance(milliseconds(11));
  eng().expire();
  ASSERT_EQ(sink_.packets().size(), 2U);
  EXPECT_EQ(parseChecked(sink_.packets()[0]).seg.ack.raw(), kServerIsn + 1);
  EXPECT_EQ(eng().stats().proxy_ack_delayed, 1U);
}

TEST_F(ProxyTest, AckDelayIsBounded) {
  const Options o;
  const Parsed sa = cookieSynAck(o);
  clock_.advance(milliseconds(900));
  EXPECT_EQ(send(clientAck(sa, o)), Verdict::drop(VerdictReason::kProxyHandshake));
  const Parsed syn = emitted(Direction::kToServer);
  EXPECT_EQ(send(serverSynAck(syn)), Verdict::drop(VerdictReason::kProxyHandshake));
  ASSERT_TRUE(eng().nextDeadline().has_value());
  EXPECT_EQ(*eng().nextDeadline() - clock_.now(), milliseconds(200));  // max_ack_delay
}

TEST_F(ProxyTest, EarlyDataIsKeptAndDeliveredWhenNotHolding) {
  EngineConfig cfg = config();
  cfg.protection.proxy.hold_with_zero_window = false;
  start(cfg);
  const Options o;
  EXPECT_EQ(send(clientSyn(o)), Verdict::drop(VerdictReason::kCookieSent));
  const Parsed sa = emitted(Direction::kToClient);
  EXPECT_EQ(sa.seg.window, 65535);
  // The client speaks first, in its final ACK and right after.
  EXPECT_EQ(send(clientAck(sa, o).psh().payload("GET / HTTP/1.1\r\n")),
            Verdict::drop(VerdictReason::kProxyHeld));
  const Parsed syn = emitted(Direction::kToServer);
  EXPECT_EQ(send(c2s()
                     .seq(kClientIsn + 17)
                     .ack(sa.seg.seq.raw() + 1)
                     .psh()
                     .payload("Host: x\r\n\r\n")
                     .timestamps(kClientTs + 11, sa.seg.options.ts_val)),
            Verdict::drop(VerdictReason::kProxyHeld));
  EXPECT_TRUE(sink_.packets().empty());
  EXPECT_EQ(send(serverSynAck(syn)), Verdict::drop(VerdictReason::kProxyHandshake));
  // ACK, then both kept segments in order, translated; no window update (not held).
  ASSERT_EQ(sink_.packets().size(), 3U);
  const Parsed ack = parseChecked(sink_.packets()[0]);
  EXPECT_EQ(ack.seg.payload_len, 0U);
  const Parsed d1 = parseChecked(sink_.packets()[1]);
  const Parsed d2 = parseChecked(sink_.packets()[2]);
  EXPECT_EQ(d1.seg.seq.raw(), kClientIsn + 1);
  EXPECT_EQ(d1.seg.payload_len, 16U);
  EXPECT_EQ(d1.seg.ack.raw(), kServerIsn + 1);
  EXPECT_EQ(d2.seg.seq.raw(), kClientIsn + 17);
  EXPECT_EQ(d2.seg.ack.raw(), kServerIsn + 1);
  EXPECT_EQ(d2.seg.options.ts_ecr, kServerTs);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(sink_.directions()[static_cast<std::size_t>(i)], Direction::kToServer);
  }
  EXPECT_EQ(eng().stats().proxy_early_kept, 2U);
  EXPECT_EQ(eng().proxies().earlyBuffersInUse(), 0U);
}

TEST_F(ProxyTest, ServerWithAnotherWindowScaleGetsWindowsRescaled) {
  const Joined j = join({}, milliseconds(0), /*server_ws=*/9);
  const std::uint32_t cookie = j.synack.seg.seq.raw();
  EXPECT_EQ(j.synack.seg.options.wscale, 7);  // the default until a SYN-ACK teaches otherwise
  // Server window 100 << 9 = 51200 bytes; the client reads it with our shift 7: 400.
  auto [v, b] = pass(s2c()
                         .seq(kServerIsn + 1)
                         .ack(kClientIsn + 1)
                         .window(100)
                         .timestamps(kServerTs + 1, kClientTs));
  EXPECT_EQ(parseChecked(b).seg.window, 400);
  // The client's windows: same shift (7) on both sides, untouched.
  auto [v2, b2] = pass(c2s()
                           .seq(kClientIsn + 1)
                           .ack(cookie + 1)
                           .window(333)
                           .timestamps(kClientTs + 40, j.synack.seg.options.ts_val + 1));
  EXPECT_EQ(parseChecked(b2).seg.window, 333);
}

TEST_F(ProxyTest, ServerWithoutWindowScalingReadsUnscaledWindows) {
  const Options o;
  const Parsed sa = cookieSynAck(o);
  EXPECT_EQ(send(clientAck(sa, o)), Verdict::drop(VerdictReason::kProxyHandshake));
  const Parsed syn = emitted(Direction::kToServer);
  // A server that does not scale: its SYN-ACK has no window scale option.
  EXPECT_EQ(send(s2c()
                     .syn()
                     .seq(kServerIsn)
                     .ack(kClientIsn + 1)
                     .window(29200)
                     .mss(1460)
                     .sackPermitted()
                     .timestamps(kServerTs, syn.seg.options.ts_val)),
            Verdict::drop(VerdictReason::kProxyHandshake));
  ASSERT_EQ(sink_.packets().size(), 2U);
  const Parsed ack = parseChecked(sink_.packets()[0]);
  EXPECT_EQ(ack.seg.window, 502 << 7);  // the client's scaled window, in bytes for the server
  sink_.clear();
  auto [v, b] = pass(c2s()
                         .seq(kClientIsn + 1)
                         .ack(sa.seg.seq.raw() + 1)
                         .window(100)
                         .timestamps(kClientTs + 50, sa.seg.options.ts_val));
  EXPECT_EQ(parseChecked(b).seg.window, 12800);  // 100 << 7, unscaled for the server
  auto [v2, b2] = pass(s2c()
                           .seq(kServerIsn + 1)
                           .ack(kClientIsn + 1)
                           .window(29200)
                           .timestamps(kServerTs + 1, kClientTs + 50));
  EXPECT_EQ(parseChecked(b2).seg.window, 29200 >> 7);
}

TEST_F(ProxyTest, ASynInTimeWaitOfAProxiedConnectionStartsANewOne) {
  const Joined j = join({});
  const std::uint32_t cookie = j.synack.seg.seq.raw();
  const std::uint32_t tv = j.synack.seg.options.ts_val;
  pass(c2s().seq(kClientIsn + 1).ack(cookie + 1).fin().timestamps(kClientTs + 60, tv));
  pass(s2c()
           .seq(kServerIsn + 1)
           .ack(kClientIsn + 2)
           .fin()
           .timestamps(kServerTs + 1, kClientTs + 60));
  pass(c2s().seq(kClientIsn + 2).ack(cookie + 2).timestamps(kClientTs + 61, tv + 1));
  const FlowKey k{*IpAddress::parse(kClient), *IpAddress::parse(kServer), kCport, kSport};
  ASSERT_EQ(eng().table().at(eng().table().find(k).idx).state, TcpState::kTimeWait);
  clock_.advance(seconds(1));
  EXPECT_EQ(send(c2s().syn().seq(kClientIsn + 100000).mss(1460).timestamps(kClientTs + 2000, 0)),
            Verdict::drop(VerdictReason::kCookieSent));
  const Parsed sa = emitted(Direction::kToClient);
  EXPECT_EQ(sa.seg.ack.raw(), kClientIsn + 100001);
  EXPECT_EQ(eng().stats().connections_reopened, 1U);
  EXPECT_EQ(eng().proxies().size(), 0U);
  EXPECT_EQ(send(c2s()
                     .seq(kClientIsn + 100001)
                     .ack(sa.seg.seq.raw() + 1)
                     .timestamps(kClientTs + 2001, sa.seg.options.ts_val)),
            Verdict::drop(VerdictReason::kProxyHandshake));
  EXPECT_EQ(emitted(Direction::kToServer).seg.seq.raw(), kClientIsn + 100000);
  EXPECT_EQ(eng().proxies().size(), 1U);
}

TEST_F(ProxyTest, InvalidCookiesAreDroppedWithTheirReason) {
  const Options o;
  const Parsed sa = cookieSynAck(o);
  EXPECT_EQ(send(c2s().seq(kClientIsn + 1).ack(sa.seg.seq.raw() + 2)),
            Verdict::drop(VerdictReason::kCookieInvalid));
  EXPECT_EQ(send(c2s().seq(kClientIsn + 2).ack(sa.seg.seq.raw() + 1)),
            Verdict::drop(VerdictReason::kCookieInvalid));
  // Three minutes later the cookie is stale (64 s windows, one previous accepted).
  clock_.advance(seconds(200));
  EXPECT_EQ(send(clientAck(sa, o)), Verdict::drop(VerdictReason::kCookieInvalid));
  const auto& rej = eng().stats().cookies_rejected;
  EXPECT_EQ(rej[static_cast<std::size_t>(CookieReject::kBadHash)], 2U);
  EXPECT_EQ(rej[static_cast<std::size_t>(CookieReject::kStale)], 1U);
  EXPECT_EQ(eng().proxies().size(), 0U);
  EXPECT_TRUE(sink_.packets().empty());
}

TEST_F(ProxyTest, RandomAcksFromAFloodOpenNothing) {
  // An ACK flood with random cookies: 2^-28 per ACK to pass (docs/ENGINE.md), so 200k ACKs
  // open nothing and reach nobody.
  std::uint64_t x = 0x9e3779b97f4a7c15ULL;
  const auto next = [&] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  for (int i = 0; i < 200000; ++i) {
    const std::uint64_t r = next();
    const auto sport = static_cast<std::uint16_t>(1024 + (r & 0x7fff));
    const auto v = send(PacketBuilder::ipv4("203.0.113.7", kServer)
                            .tcp(sport, kSport)
                            .seq(static_cast<std::uint32_t>(r >> 16))
                            .ack(static_cast<std::uint32_t>(r >> 32)));
    ASSERT_EQ(v, Verdict::drop(VerdictReason::kCookieInvalid));
  }
  EXPECT_EQ(eng().stats().proxied_total, 0U);
  EXPECT_TRUE(sink_.packets().empty());
}

TEST_F(ProxyTest, GatewaysSharingTheKeyFileValidateEachOthersCookies) {
  // Two engines (gateways behind ECMP) with the same master key: B completes what A began.
  testing::CapturingSink sink_b;
  auto b = Engine::create(config(), secrets_, clock_, sink_b);
  ASSERT_TRUE(b.has_value());
  const Options o;
  const Parsed sa = cookieSynAck(o);  // answered by A
  const auto ack = clientAck(sa, o).build();
  EXPECT_EQ(b->process(ack), Verdict::drop(VerdictReason::kProxyHandshake));
  ASSERT_EQ(sink_b.packets().size(), 1U);
  EXPECT_EQ(parseChecked(sink_b.packets()[0]).seg.seq.raw(), kClientIsn);
  // A third gateway with another key does not.
  Secrets other = secrets_;
  other.master_key.k0 ^= 1;
  testing::CapturingSink sink_c;
  auto c = Engine::create(config(), other, clock_, sink_c);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->process(ack), Verdict::drop(VerdictReason::kCookieInvalid));
}

TEST_F(ProxyTest, KeysRotateAndThePreviousKeyStillValidates) {
  EngineConfig cfg = config();
  cfg.protection.key_rotation = seconds(60);
  start(cfg);
  // 5 s before a rotation boundary (and a cookie-window boundary: both are 64/60 s multiples).
  const std::int64_t now_s = 1'800'000'000;
  clock_.set(MonotonicTime{seconds(now_s - now_s % 60 + 55)});
  const Options o;
  const Parsed sa = cookieSynAck(o);
  clock_.advance(seconds(10));  // the key has rotated
  EXPECT_EQ(send(clientAck(sa, o)), Verdict::drop(VerdictReason::kProxyHandshake));
  EXPECT_EQ(eng().stats().key_rotations, 1U);
  // A cookie two rotations old fails even though its 64 s window would still pass... with a
  // key rotation shorter than the cookie window the key decides.
  start(cfg);
  clock_.set(MonotonicTime{seconds(now_s - now_s % 60 + 55)});
  const Parsed sa2 = cookieSynAck(o);
  clock_.advance(seconds(70));
  EXPECT_EQ(send(clientAck(sa2, o)), Verdict::drop(VerdictReason::kCookieInvalid));
}

TEST_F(ProxyTest, LearnedServerProfileIsUsedInCookieSynAcks) {
  start(config(ProtectionMode::kAdaptive));
  // Normal mode: a real handshake teaches the service's MSS and window scale.
  EXPECT_EQ(send(c2s().syn().seq(1).mss(1460).wscale(7).sackPermitted().timestamps(1, 0)),
            Verdict::accept(VerdictReason::kTracked));
  EXPECT_EQ(send(s2c().syn().seq(2).ack(2).mss(1400).wscale(10).sackPermitted().timestamps(9, 1)),
            Verdict::accept(VerdictReason::kTracked));
  EXPECT_TRUE(eng().service(0).profile.learned);
  EXPECT_EQ(eng().service(0).profile.mss, 1400);
  // A flood switches the service to cookies (rate threshold 1000/s).
  for (int i = 0; i < 1000; ++i) {
    send(PacketBuilder::ipv4("203.0.113.9", kServer)
             .tcp(static_cast<std::uint16_t>(2000 + i), kSport)
             .syn()
             .seq(7));
  }
  EXPECT_EQ(eng().service(0).mode.mode(), ServiceMode::kCookie);
  sink_.clear();
  EXPECT_EQ(send(c2s().tcp(41000, kSport).syn().seq(1).mss(1460).wscale(7).timestamps(1, 0)),
            Verdict::drop(VerdictReason::kCookieSent));
  ASSERT_FALSE(sink_.packets().empty());
  const Parsed sa = parseChecked(sink_.packets().back());
  EXPECT_EQ(sa.seg.options.mss, 1400);
  EXPECT_EQ(sa.seg.options.wscale, 10);
}

TEST_F(ProxyTest, Ipv6ConnectionsAreProxiedToo) {
  const char* c6 = "2001:db8:c::10";
  const char* s6 = "2001:db8:5::10";
  EXPECT_EQ(send(PacketBuilder::ipv6(c6, s6)
                     .tcp(50000, 443)
                     .syn()
                     .seq(kClientIsn)
                     .mss(1440)
                     .wscale(8)
                     .sackPermitted()
                     .timestamps(kClientTs, 0)),
            Verdict::drop(VerdictReason::kCookieSent));
  const Parsed sa = emitted(Direction::kToClient);
  EXPECT_EQ(sa.seg.ip_version, 6);
  EXPECT_EQ(sa.seg.options.mss, 1440);
  EXPECT_EQ(send(PacketBuilder::ipv6(c6, s6)
                     .tcp(50000, 443)
                     .seq(kClientIsn + 1)
                     .ack(sa.seg.seq.raw() + 1)
                     .timestamps(kClientTs + 1, sa.seg.options.ts_val)),
            Verdict::drop(VerdictReason::kProxyHandshake));
  const Parsed syn = emitted(Direction::kToServer);
  EXPECT_EQ(syn.seg.ip_version, 6);
  EXPECT_EQ(syn.seg.options.mss, 1440);  // from the IPv6 MSS table
  EXPECT_EQ(syn.seg.options.wscale, 8);
  EXPECT_EQ(send(PacketBuilder::ipv6(s6, c6)
                     .tcp(443, 50000)
                     .syn()
                     .seq(kServerIsn)
                     .ack(kClientIsn + 1)
                     .mss(1440)
                     .wscale(7)
                     .sackPermitted()
                     .timestamps(kServerTs, syn.seg.options.ts_val)),
            Verdict::drop(VerdictReason::kProxyHandshake));
  ASSERT_EQ(sink_.packets().size(), 2U);
  sink_.clear();
  auto bytes = PacketBuilder::ipv6(s6, c6)
                   .tcp(443, 50000)
                   .seq(kServerIsn + 1)
                   .ack(kClientIsn + 1)
                   .payload(1200)
                   .timestamps(kServerTs + 1, kClientTs + 1)
                   .build();
  const Verdict v = eng().processMutable(bytes);
  EXPECT_EQ(v.reason, VerdictReason::kProxied);
  EXPECT_EQ(parseChecked(bytes).seg.seq.raw(), sa.seg.seq.raw() + 1);
}

TEST_F(ProxyTest, PartialChecksumsAreCompletedWhenRewritten) {
  const Joined j = join({});
  const std::uint32_t cookie = j.synack.seg.seq.raw();
  auto bytes = c2s()
                   .seq(kClientIsn + 1)
                   .ack(cookie + 1)
                   .payload(64)
                   .timestamps(kClientTs + 5, j.synack.seg.options.ts_val)
                   .build();
  // As the kernel hands over a CHECKSUM_PARTIAL packet: the field holds the pseudo-header sum.
  Segment s;
  ASSERT_EQ(parseSegment(bytes, s), ParseError::kNone);
  bytes[s.tcp_offset + 16] = std::byte{0x12};
  bytes[s.tcp_offset + 17] = std::byte{0x34};
  const Verdict v = eng().processMutable(bytes, PacketMeta{0, true});
  EXPECT_TRUE(v.rewritten);
  EXPECT_EQ(parseChecked(bytes).seg.ack.raw(), kServerIsn + 1);
}

TEST_F(ProxyTest, ReadOnlyProcessingClassifiesButDoesNotRewrite) {
  const Joined j = join({});
  const auto bytes = c2s().seq(kClientIsn + 1).ack(j.synack.seg.seq.raw() + 1).build();
  const Verdict v = eng().process(bytes);
  EXPECT_EQ(v.reason, VerdictReason::kProxied);
  EXPECT_FALSE(v.rewritten);
}

TEST_F(ProxyTest, TranslationStateHasABoundedCost) {
  std::printf("proxy entry %zu bytes; %zu bytes per proxied connection with this config\n",
              sizeof(ProxyEntry), eng().proxies().bytesPerConnection());
  const ProxyTable defaults(ProxyConfig{}.capacity, ProxyConfig{}.early_segment_buffers);
  std::printf("defaults: %zu bytes per proxied connection\n", defaults.bytesPerConnection());
  EXPECT_LE(sizeof(ProxyEntry), 96U);
  // Entry, heap share and early-segment pool share: report in docs/ENGINE.md.
  EXPECT_LT(eng().proxies().bytesPerConnection(), 1024U);
}

}  // namespace
}  // namespace synguard::engine

namespace synguard::engine {
namespace {

// Random segments on a handful of tuples of a service in cookie mode, with the clock jumping
// about: whatever arrives, the engine keeps its invariants (the proxy table and early-segment
// pool stay consistent, every proxied connection has an entry and vice versa) and never
// crashes (this runs under ASan/UBSan in CI).
TEST(ProxyStress, RandomSegmentsKeepTheInvariants) {
  testing::ManualClock clock;
  clock.set(MonotonicTime{seconds(1'800'000'000)});
  testing::CapturingSink sink;
  EngineConfig cfg;
  cfg.table_capacity = 256;
  cfg.timeouts.established = seconds(2);  // tuples come free often
  cfg.timeouts.syn_sent = seconds(1);
  cfg.timeouts.syn_received = seconds(1);
  cfg.timeouts.time_wait = seconds(1);
  ServiceConfig s;
  s.name = "svc";
  ASSERT_TRUE(s.addresses.add("198.51.100.1").has_value());
  s.ports = {{443, 443}};
  s.mode = ProtectionMode::kAlways;
  cfg.protection.services.push_back(s);
  cfg.protection.proxy.capacity = 8;
  cfg.protection.proxy.early_segment_buffers = 6;
  cfg.protection.proxy.hold_with_zero_window = false;
  auto r = Engine::create(cfg, testing::testSecrets(), clock, sink);
  ASSERT_TRUE(r.has_value());
  Engine& e = *r;
  std::mt19937_64 rng(424242);
  struct Issued {
    std::uint16_t port;
    std::uint32_t isn;
    std::uint32_t cookie;
  };
  std::vector<Issued> cookies;  // cookies handed out, so valid ACKs happen often
  for (int i = 0; i < 200000; ++i) {
    const auto x = rng();
    const Issued pick = cookies.empty() ? Issued{40000, 0, 0} : cookies[(x >> 16) % cookies.size()];
    const bool replay_cookie = (x >> 20) % 8 >= 1 && (x >> 20) % 8 <= 3;
    const auto cport = replay_cookie ? pick.port : static_cast<std::uint16_t>(40000 + x % 64);
    const bool from_client = (x >> 8) % 2 == 0;
    PacketBuilder b = from_client
                          ? PacketBuilder::ipv4("192.0.2.10", "198.51.100.1").tcp(cport, 443)
                          : PacketBuilder::ipv4("198.51.100.1", "192.0.2.10").tcp(443, cport);
    const std::uint32_t base =
        replay_cookie ? pick.isn : 1000U + static_cast<std::uint32_t>((x >> 12) % 4);
    const std::uint32_t cookie = pick.cookie;
    switch ((x >> 20) % 8) {
      case 0:
        b.syn().seq(base).mss(1460).wscale(7).sackPermitted().timestamps(5, 0);
        break;
      case 1:
        b.seq(base + 1).ack(cookie + 1).timestamps(6, static_cast<std::uint32_t>(rng()));
        break;
      case 2:
        b.syn().seq(900).ack(base + 1).mss(1400).wscale(9).timestamps(77, 6);
        break;
      case 3:
        b.seq(base + 1 + static_cast<std::uint32_t>(x >> 40) % 3000)
            .ack(cookie + 1)
            .payload((x >> 30) % 1600)
            .psh();
        break;
      case 4:
        b.rst().seq(from_client ? base + 1 : cookie + 1).ack(base + 1);
        break;
      case 5:
        b.fin().seq(static_cast<std::uint32_t>(rng())).ack(static_cast<std::uint32_t>(rng()));
        break;
      case 6:
        b.seq(static_cast<std::uint32_t>(rng()))
            .ack(static_cast<std::uint32_t>(rng()))
            .sack({{1, 2}, {3, 4}});
        break;
      default:
        b.flags(static_cast<std::uint8_t>(x >> 48)).seq(static_cast<std::uint32_t>(rng()));
        break;
    }
    auto bytes = b.build();
    (void)e.processMutable(bytes, PacketMeta{0, (x >> 60) % 2 == 0});
    for (const auto& p : sink.packets()) {
      Segment seg;
      ASSERT_EQ(parseSegment(p, seg), ParseError::kNone);
      ASSERT_EQ(tcpChecksum(p, seg.tcp_offset, p.size() - seg.tcp_offset), 0);
      if (seg.has(kSyn) && seg.has(kAck)) {
        cookies.push_back(Issued{seg.dst_port, seg.ack.raw() - 1, seg.seq.raw()});
        if (cookies.size() > 64) {
          cookies.erase(cookies.begin());
        }
      }
    }
    sink.clear();
    if ((x >> 56) % 16 == 0) {
      clock.advance(milliseconds((x >> 36) % 400));
      e.expire();
    }
    // Invariants.
    std::size_t proxied = 0;
    for (std::uint32_t k = 0; k < e.table().capacity(); ++k) {
      const Connection& c = e.table().at(k);
      if (c.in_use != 0 && (c.flags & kConnProxied) != 0) {
        ++proxied;
        ASSERT_EQ(e.proxies().at(c.proxyEntry()).conn, k);
        ASSERT_NE(e.proxies().at(c.proxyEntry()).phase, ProxyPhase::kFree);
      }
    }
    ASSERT_EQ(proxied, e.proxies().size()) << i;
    ASSERT_LE(e.proxies().earlyBuffersInUse(), 6U);
  }
  std::printf("stress: %llu proxied, %llu joined, %llu refused, %llu timed out, %llu translated\n",
              static_cast<unsigned long long>(e.stats().proxied_total),
              static_cast<unsigned long long>(e.stats().proxy_completed),
              static_cast<unsigned long long>(e.stats().proxy_refused),
              static_cast<unsigned long long>(e.stats().proxy_server_timeout),
              static_cast<unsigned long long>(e.stats().translated[0]) + e.stats().translated[1]);
  // The stream exercised every path (counts are deterministic for the seed).
  EXPECT_GT(e.stats().proxied_total, 50U);
  EXPECT_GT(e.stats().proxy_completed, 10U);
  EXPECT_GT(e.stats().proxy_refused, 10U);
  EXPECT_GT(e.stats().proxy_server_timeout, 10U);
  EXPECT_GT(e.stats().translated[0] + e.stats().translated[1], 50U);
  e.flush();
  EXPECT_EQ(e.proxies().size(), 0U);
  EXPECT_EQ(e.proxies().earlyBuffersInUse(), 0U);
}

}  // namespace
}  // namespace synguard::engine

namespace synguard::engine {
namespace {

/// Records every handoff the engine offers (proxy.handoff), and what it reports back.
class HandoffRecorder : public ConnectionObserver {
 public:
  void onConnectionEnd(const Connection&, EndCause) noexcept override {}
  void onProxyHandoff(const ProxyHandoff& h) noexcept override { offered.push_back(h); }
  void onHandoffTakenBack(const FlowKey& t) noexcept override { taken_back.push_back(t); }
  void onHandedOffSyn(const FlowKey& t) noexcept override { syns.push_back(t); }
  std::vector<ProxyHandoff> offered;
  std::vector<FlowKey> taken_back;
  std::vector<FlowKey> syns;
};

class ProxyHandoffTest : public ProxyTest {
 protected:
  void SetUp() override { startWith(true); }
  void startWith(bool handoff, std::size_t max_per_source = 0) {
    EngineConfig cfg = config();
    cfg.protection.proxy.handoff = handoff;
    cfg.protection.proxy.max_per_source = max_per_source;
    recorder_ = {};
    EngineHarness::start(cfg, &recorder_);
  }
  std::uint64_t ends(HandoffEnd how) {
    return eng().stats().proxy_handoff_ends[static_cast<std::size_t>(how)];
  }
  /// A client SYN with a new ISN on the current tuple.
  PacketBuilder newSyn() const { return c2s().syn().seq(kClientIsn + 100000).mss(1460); }
  HandoffRecorder recorder_;
};

TEST_F(ProxyHandoffTest, OfferedOnceBothHalvesJoinWithTheKernelsOffsets) {
  const Parsed sa = cookieSynAck({});
  ASSERT_EQ(send(clientAck(sa, {})), Verdict::drop(VerdictReason::kProxyHandshake));
  const Parsed syn = emitted(Direction::kToServer);
  EXPECT_TRUE(recorder_.offered.empty()) << "not before the server answered";
  ASSERT_EQ(send(serverSynAck(syn)), Verdict::drop(VerdictReason::kProxyHandshake));
  ASSERT_EQ(recorder_.offered.size(), 1U);
  const ProxyHandoff& h = recorder_.offered[0];
  const std::uint32_t cookie = sa.seg.seq.raw();
  const FlowKey k{*IpAddress::parse(kClient), *IpAddress::parse(kServer), kCport, kSport};
  EXPECT_EQ(h.tuple, k);
  // conntrack's reply-direction seqadj: server seq + offset = the client's view.
  EXPECT_EQ(h.seq_offset, cookie - kServerIsn);
  EXPECT_EQ(kServerIsn + h.seq_offset, cookie);
  EXPECT_EQ(h.cookie_isn, cookie);
  EXPECT_EQ(h.server_isn, kServerIsn);
  EXPECT_TRUE(h.timestamps);
  // synproxy tsoff: server TSval + tsoff = the clock the client saw in our SYN-ACK.
  EXPECT_EQ(kServerTs + h.ts_off, sa.seg.options.ts_val);
  EXPECT_EQ(h.cookie_tsval, sa.seg.options.ts_val);
  EXPECT_TRUE(h.sack);
  EXPECT_EQ(h.window_shift_c, 7);
  EXPECT_EQ(h.window_shift_s, 7);
  EXPECT_EQ(eng().stats().proxy_handoff_offered, 1U);
  EXPECT_EQ(eng().stats().proxy_handoff_window_scale, 0U);
}

TEST_F(ProxyHandoffTest, OfferedWithoutTimestampsOrSackToo) {
  const Joined j = join({.ts = false, .ws = false, .sack = false});
  ASSERT_EQ(recorder_.offered.size(), 1U);
  EXPECT_FALSE(recorder_.offered[0].timestamps);
  EXPECT_EQ(recorder_.offered[0].ts_off, 0U);
  EXPECT_FALSE(recorder_.offered[0].sack);
  EXPECT_EQ(recorder_.offered[0].seq_offset, j.synack.seg.seq.raw() - kServerIsn);
}

TEST_F(ProxyHandoffTest, DelayedAckOffersWhenTheDeadlineCompletesTheJoin) {
  const Parsed sa = cookieSynAck({});
  clock_.advance(milliseconds(30));
  ASSERT_EQ(send(clientAck(sa, {})), Verdict::drop(VerdictReason::kProxyHandshake));
  const Parsed syn = emitted(Direction::kToServer);
  ASSERT_EQ(send(serverSynAck(syn)), Verdict::drop(VerdictReason::kProxyHandshake));
  EXPECT_TRUE(recorder_.offered.empty()) << "our ACK to the server still waits";
  clock_.advance(milliseconds(40));
  eng().expire();
  EXPECT_EQ(recorder_.offered.size(), 1U);
}

TEST_F(ProxyHandoffTest, WindowScaleMismatchStaysInUserSpaceAndIsCounted) {
  join({}, milliseconds(0), 9);  // we announced 7, the server scales by 9
  EXPECT_TRUE(recorder_.offered.empty());
  EXPECT_EQ(eng().stats().proxy_handoff_window_scale, 1U);
  EXPECT_EQ(eng().stats().proxy_handoff_offered, 0U);
}

TEST_F(ProxyHandoffTest, ServerWithoutWindowScalingIsAMismatchToo) {
  // The client scales by 7 as it believes; the server reads the client's windows unscaled.
  const Parsed sa = cookieSynAck({});
  ASSERT_EQ(send(clientAck(sa, {})), Verdict::drop(VerdictReason::kProxyHandshake));
  const Parsed syn = emitted(Direction::kToServer);
  ASSERT_EQ(send(s2c()
                     .syn()
                     .seq(kServerIsn)
                     .ack(syn.seg.seq.raw() + 1)
                     .window(65160)
                     .mss(1460)
                     .sackPermitted()
                     .timestamps(kServerTs, syn.seg.options.ts_val)),
            Verdict::drop(VerdictReason::kProxyHandshake));
  EXPECT_TRUE(recorder_.offered.empty());
  EXPECT_EQ(eng().stats().proxy_handoff_window_scale, 1U);
}

TEST_F(ProxyHandoffTest, InFlightSegmentsAreStillTranslatedAfterTheOffer) {
  const Joined j = join({});
  ASSERT_EQ(recorder_.offered.size(), 1U);
  const std::uint32_t cookie = j.synack.seg.seq.raw();
  auto [v1, b1] = pass(c2s()
                           .seq(kClientIsn + 1)
                           .ack(cookie + 1)
                           .payload(100)
                           .timestamps(kClientTs + 20, j.synack.seg.options.ts_val));
  EXPECT_EQ(v1.reason, VerdictReason::kProxied);
  EXPECT_EQ(parseChecked(b1).seg.ack.raw(), kServerIsn + 1);
  auto [v2, b2] = pass(
      s2c().seq(kServerIsn + 1).ack(kClientIsn + 101).payload(10).timestamps(kServerTs + 1, 0));
  EXPECT_EQ(v2.reason, VerdictReason::kProxied);
  EXPECT_EQ(parseChecked(b2).seg.seq.raw(), cookie + 1);
  EXPECT_EQ(recorder_.offered.size(), 1U) << "offered once, not per segment";
}

TEST_F(ProxyHandoffTest, NothingIsOfferedWhenHandoffIsOff) {
  startWith(false);
  join({});
  EXPECT_TRUE(recorder_.offered.empty());
  EXPECT_EQ(eng().stats().proxy_handoff_offered, 0U);
  EXPECT_EQ(eng().stats().proxy_handoff_window_scale, 0U);
}

TEST_F(ProxyHandoffTest, ClientSynOnAHandedOffConnectionIsDroppedAndReported) {
  join({});
  ASSERT_EQ(recorder_.offered.size(), 1U);
  // A new handshake on a live tuple, or a port reused before conntrack's end reached us:
  // never passed to the server unvalidated, never answered as the old connection.
  EXPECT_EQ(send(newSyn()), Verdict::drop(VerdictReason::kProxiedSyn));
  EXPECT_TRUE(sink_.packets().empty());
  ASSERT_EQ(recorder_.syns.size(), 1U);
  EXPECT_EQ(recorder_.syns[0], tuple());
  EXPECT_EQ(eng().proxies().size(), 1U) << "the connection is untouched";
  EXPECT_EQ(dropped(VerdictReason::kProxiedSyn), 1U);
}

TEST_F(ProxyHandoffTest, SynIsTranslatedAsEverWhenTheConnectionWasNotHandedOff) {
  startWith(false);
  join({});
  EXPECT_EQ(send(newSyn()).reason, VerdictReason::kProxied);
  EXPECT_TRUE(recorder_.syns.empty());
}

TEST_F(ProxyHandoffTest, FinThroughTheQueueTakesTheConnectionBack) {
  const Joined j = join({});
  const std::uint32_t cookie = j.synack.seg.seq.raw();
  auto [v, b] = pass(c2s().fin().seq(kClientIsn + 1).ack(cookie + 1));
  EXPECT_EQ(v.reason, VerdictReason::kProxied);
  EXPECT_EQ(parseChecked(b).seg.ack.raw(), kServerIsn + 1) << "translated, as ever";
  ASSERT_EQ(recorder_.taken_back.size(), 1U);
  EXPECT_EQ(recorder_.taken_back[0], tuple());
  EXPECT_EQ(ends(HandoffEnd::kTakenBack), 1U);
  // The kernel's entry (deleted by the daemon now) no longer speaks for it.
  eng().handoffEnded(tuple(), HandoffEnd::kGone);
  EXPECT_EQ(eng().proxies().size(), 1U);
  EXPECT_EQ(ends(HandoffEnd::kGone), 0U);
  // A later SYN is not looked up in conntrack (the engine follows the connection again); the
  // connection is closing, so it is dropped rather than translated into it.
  EXPECT_EQ(send(newSyn()), Verdict::drop(VerdictReason::kProxiedSyn));
  EXPECT_TRUE(recorder_.syns.empty());
}

TEST_F(ProxyHandoffTest, ServerRstThroughTheQueueTakesItBackToo) {
  const Joined j = join({});
  (void)j;
  auto [v, b] = pass(s2c().rst().seq(kServerIsn + 1));
  (void)b;
  EXPECT_EQ(recorder_.taken_back.size(), 1U);
  EXPECT_EQ(ends(HandoffEnd::kTakenBack), 1U);
}

TEST_F(ProxyHandoffTest, GoneForgetsTheConnectionAndFreesTheTuple) {
  join({});
  ASSERT_EQ(eng().proxies().size(), 1U);
  eng().handoffEnded(tuple(), HandoffEnd::kGone);
  EXPECT_EQ(eng().proxies().size(), 0U);
  EXPECT_EQ(ends(HandoffEnd::kGone), 1U);
  EXPECT_EQ(eng().stats().connections_ended[static_cast<std::size_t>(EndCause::kConntrack)], 1U);
  // The client's retry is a new connection: a cookie, not a drop.
  EXPECT_EQ(send(clientSyn({})), Verdict::drop(VerdictReason::kCookieSent));
  eng().handoffEnded(tuple(), HandoffEnd::kGone);  // late or repeated: nothing to end
  EXPECT_EQ(ends(HandoffEnd::kGone), 1U);
}

TEST_F(ProxyHandoffTest, ForgedSynWithOtherFlagsIsDroppedAndTakesNothingBack) {
  const Joined j = join({});
  const std::uint32_t cookie = j.synack.seg.seq.raw();
  // SYN+ACK+FIN, SYN+ACK+RST: SYN-flagged, so they skip the sets and come here; a FIN or RST
  // among the flags must not undo the handoff.
  EXPECT_EQ(send(c2s().syn().ack(cookie + 1).fin().seq(12345)),
            Verdict::drop(VerdictReason::kProxiedSyn));
  EXPECT_EQ(send(c2s().syn().ack(cookie + 1).rst().seq(12345)),
            Verdict::drop(VerdictReason::kProxiedSyn));
  EXPECT_TRUE(recorder_.taken_back.empty());
  EXPECT_TRUE(recorder_.syns.empty()) << "only a client's SYN without ACK is looked up";
  EXPECT_EQ(ends(HandoffEnd::kTakenBack), 0U);
  // Still handed off: a FIN without SYN takes it back.
  (void)pass(c2s().fin().seq(kClientIsn + 1).ack(cookie + 1));
  EXPECT_EQ(recorder_.taken_back.size(), 1U);
}

TEST_F(ProxyHandoffTest, TakenBackThenClosedThroughTheKernelEndsInTimeWait) {
  const Joined j = join({});
  // The server's FIN came through the queue before the set element was there ...
  (void)pass(s2c().fin().seq(kServerIsn + 1).ack(kClientIsn + 1));
  ASSERT_EQ(recorder_.taken_back.size(), 1U);
  // ... and the rest of the close through the kernel, which reports TIME_WAIT.
  eng().handoffEnded(tuple(), HandoffEnd::kClosed);
  EXPECT_EQ(ends(HandoffEnd::kClosed), 1U);
  EXPECT_EQ(eng().stats().connections_by_state[index(TcpState::kTimeWait)], 1U);
  EXPECT_EQ(eng().proxies().size(), 0U);
  EXPECT_EQ(send(clientSyn({})), Verdict::drop(VerdictReason::kCookieSent)) << "a new connection";
  (void)j;
}

TEST_F(ProxyHandoffTest, SynOnAClosingProxiedConnectionIsNotTranslatedIntoIt) {
  startWith(false);
  const Joined j = join({});
  const std::uint32_t cookie = j.synack.seg.seq.raw();
  (void)pass(c2s().fin().seq(kClientIsn + 1).ack(cookie + 1));
  EXPECT_EQ(send(newSyn()), Verdict::drop(VerdictReason::kProxiedSyn));
  EXPECT_TRUE(sink_.packets().empty());
}

TEST_F(ProxyHandoffTest, RefusedByTheKernelTheEngineKeepsIt) {
  join({});
  eng().handoffEnded(tuple(), HandoffEnd::kTakenBack);  // the entry could not be created
  EXPECT_EQ(eng().proxies().size(), 1U);
  EXPECT_EQ(ends(HandoffEnd::kTakenBack), 1U);
  // Its segments are the engine's for good: a SYN is no handed-off SYN, a later kGone (the
  // lookup found no entry) ends nothing.
  EXPECT_NE(send(newSyn()).reason, VerdictReason::kProxiedSyn);
  eng().handoffEnded(tuple(), HandoffEnd::kGone);
  EXPECT_EQ(eng().proxies().size(), 1U);
}

TEST_F(ProxyHandoffTest, EitherOrientationOfTheTupleIsFound) {
  join({});
  const FlowKey k = tuple();
  eng().handoffEnded(FlowKey{k.resp_addr, k.orig_addr, k.resp_port, k.orig_port},
                     HandoffEnd::kGone);
  EXPECT_EQ(eng().proxies().size(), 0U);
}

TEST_F(ProxyHandoffTest, ClosedKeepsTimeWaitAndFreesTheSourcesShare) {
  startWith(true, 1);  // proxy.max_per_source: 1
  join({});
  // A second connection from the same source is over the cap while the first is open.
  cport_ = kCport + 1;
  const Parsed sa = cookieSynAck({});
  EXPECT_EQ(send(clientAck(sa, {})), Verdict::drop(VerdictReason::kProxySourceLimit));
  // conntrack saw the first close (TIME_WAIT): the share and the proxy slot are free at once;
  // the engine's TIME-WAIT keeps the tuple.
  cport_ = kCport;
  eng().handoffEnded(tuple(), HandoffEnd::kClosed);
  EXPECT_EQ(ends(HandoffEnd::kClosed), 1U);
  EXPECT_EQ(eng().stats().connections_by_state[index(TcpState::kTimeWait)], 1U);
  EXPECT_EQ(eng().proxies().size(), 0U);
  eng().handoffEnded(tuple(), HandoffEnd::kGone);  // the DESTROY of the deleted entry: nothing
  EXPECT_EQ(ends(HandoffEnd::kGone), 0U);
  EXPECT_EQ(eng().stats().connections_by_state[index(TcpState::kTimeWait)], 1U);
  EXPECT_TRUE(recorder_.taken_back.empty());
  cport_ = kCport + 1;
  const Parsed sa2 = cookieSynAck({});
  EXPECT_EQ(send(clientAck(sa2, {})), Verdict::drop(VerdictReason::kProxyHandshake));
  // And the first tuple reused: TIME-WAIT gives way to a new connection, as without handoff.
  cport_ = kCport;
  sink_.clear();
  EXPECT_EQ(send(clientSyn({})), Verdict::drop(VerdictReason::kCookieSent));
}

}  // namespace
}  // namespace synguard::engine
