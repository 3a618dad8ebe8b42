// Adaptive protection under synthetic floods: thresholds, hysteresis and hold time, monitor
// mode, per-source limits, allow and deny lists, and configuration checks.

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "tests/support/engine_harness.h"

namespace synguard::engine {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::PacketBuilder;

class ModeLog : public ConnectionObserver {
 public:
  void onConnectionEnd(const Connection&, EndCause) noexcept override {}
  void onModeChange(std::size_t service, const ModeChange& c) noexcept override {
    changes.push_back({service, c});
  }
  std::vector<std::pair<std::size_t, ModeChange>> changes;
};

class ProtectionTest : public ::testing::Test, protected testing::EngineHarness {
 protected:
  ProtectionTest() : EngineHarness(testing::testSecrets(SipKey{1, 2})) {}

  static constexpr const char* kServer = "198.51.100.1";

  static ServiceConfig service(ProtectionMode mode = ProtectionMode::kAdaptive) {
    ServiceConfig s;
    s.name = "web";
    EXPECT_TRUE(s.addresses.add("198.51.100.0/24").has_value());
    s.ports = {{80, 80}};
    s.mode = mode;
    s.thresholds.half_open_on = 100;
    s.thresholds.half_open_off = 50;
    s.thresholds.syn_rate_on = 1e9;  // half-open decides unless a test says otherwise
    s.thresholds.syn_rate_off = 1e8;
    s.thresholds.hold = seconds(10);
    return s;
  }

  static EngineConfig config(const ServiceConfig& s) {
    EngineConfig cfg;
    cfg.table_capacity = 1 << 16;
    cfg.protection.services.push_back(s);
    return cfg;
  }

  void start(const EngineConfig& cfg) { EngineHarness::start(cfg, &log_); }

  /// A SYN from a distinct spoofed source (one per /24 so per-source limits stay out of it).
  Verdict spoofedSyn(std::uint32_t n, const char* dst = kServer, std::uint16_t port = 80) {
    const std::string src =
        "10." + std::to_string((n >> 8) & 0xff) + "." + std::to_string(n & 0xff) + ".1";
    return eng().process(PacketBuilder::ipv4(src, dst)
                             .tcp(static_cast<std::uint16_t>(1024 + n % 50000), port)
                             .syn()
                             .seq(n)
                             .build());
  }
  Verdict synFrom(const char* src, std::uint16_t sport, const char* dst = kServer) {
    return eng().process(PacketBuilder::ipv4(src, dst).tcp(sport, 80).syn().seq(sport).build());
  }
  ServiceMode mode() const { return engine_->service(0).mode.mode(); }
  /// n spoofed SYNs (< 256) that the server answers: half-open, SYN-RECEIVED at the tracker.
  void floodAnsweredByServer(std::uint32_t n) {
    for (std::uint32_t i = 0; i < n; ++i) {
      spoofedSyn(i);
      const std::string src = "10.0." + std::to_string(i & 0xff) + ".1";
      eng().process(PacketBuilder::ipv4(kServer, src)
                        .tcp(80, static_cast<std::uint16_t>(1024 + i))
                        .syn()
                        .seq(7000)
                        .ack(i + 1)
                        .build());
    }
  }

  ModeLog log_;
};

TEST_F(ProtectionTest, HalfOpenThresholdSwitchesToCookiesAndSynsBeforeItAreTracked) {
  start(config(service()));
  for (std::uint32_t i = 0; i < 99; ++i) {
    clock_.advance(milliseconds(10));
    ASSERT_EQ(spoofedSyn(i), Verdict::accept(VerdictReason::kTracked)) << i;
  }
  EXPECT_EQ(eng().service(0).half_open, 99U);
  EXPECT_EQ(mode(), ServiceMode::kNormal);
  EXPECT_TRUE(sink_.packets().empty());
  // The 100th half-open connection is the threshold: the next SYN is answered with a cookie.
  ASSERT_EQ(spoofedSyn(99), Verdict::accept(VerdictReason::kTracked));
  EXPECT_EQ(spoofedSyn(100), Verdict::drop(VerdictReason::kCookieSent));
  EXPECT_EQ(mode(), ServiceMode::kCookie);
  EXPECT_EQ(sink_.packets().size(), 1U);
  EXPECT_EQ(eng().service(0).half_open, 100U) << "cookie SYNs leave no state";
  ASSERT_EQ(log_.changes.size(), 1U);
  EXPECT_EQ(log_.changes[0].second.to, ServiceMode::kCookie);
  EXPECT_EQ(log_.changes[0].second.half_open, 100U);
  EXPECT_EQ(eng().stats().mode_changes, 1U);
}

TEST_F(ProtectionTest, OnlyHandshakesReachingEstablishedCountAsCompleted) {
  start(config(service()));
  // Ten clients complete their handshakes; ten spoofed SYNs are answered but never ACKed.
  for (std::uint16_t i = 0; i < 10; ++i) {
    const auto port = static_cast<std::uint16_t>(30000 + i);
    synFrom("192.0.2.10", port);
    eng().process(PacketBuilder::ipv4(kServer, "192.0.2.10")
                      .tcp(80, port)
                      .syn()
                      .seq(9)
                      .ack(port + 1U)
                      .build());
    eng().process(
        PacketBuilder::ipv4("192.0.2.10", kServer).tcp(port, 80).seq(port + 1U).ack(10).build());
  }
  floodAnsweredByServer(10);
  EXPECT_EQ(eng().service(0).handshakes_completed, 10U);
  EXPECT_EQ(eng().service(0).half_open, 10U);
  // The unanswered ones time out: still ten.
  clock_.advance(seconds(121));
  eng().expire();
  EXPECT_EQ(eng().service(0).half_open, 0U);
  EXPECT_EQ(eng().service(0).handshakes_completed, 10U);
}

TEST_F(ProtectionTest, SynRateThresholdSwitchesWithinTheSecond) {
  ServiceConfig s = service();
  s.thresholds.half_open_on = 1'000'000;
  s.thresholds.half_open_off = 500'000;
  s.thresholds.syn_rate_on = 1000;
  s.thresholds.syn_rate_off = 100;
  start(config(s));
  std::uint32_t n = 0;
  for (; n < 999; ++n) {
    clock_.advance(std::chrono::microseconds(500));  // 2000 SYNs/s
    ASSERT_EQ(spoofedSyn(n), Verdict::accept(VerdictReason::kTracked));
  }
  EXPECT_EQ(mode(), ServiceMode::kNormal);
  // The 1000th SYN of the open second reaches the threshold (half a second into the flood,
  // long before the smoothed rate would) and is itself answered with a cookie.
  EXPECT_EQ(spoofedSyn(n++), Verdict::drop(VerdictReason::kCookieSent));
  EXPECT_EQ(mode(), ServiceMode::kCookie);
  ASSERT_EQ(log_.changes.size(), 1U);
  EXPECT_GE(log_.changes[0].second.syn_rate, 1000.0);
}

TEST_F(ProtectionTest, LeavesCookieModeOnlyAfterTheHoldTimeUnderTheOffThresholds) {
  ServiceConfig s = service();
  s.thresholds.half_open_on = 1'000'000;
  s.thresholds.half_open_off = 500'000;
  s.thresholds.syn_rate_on = 1000;
  s.thresholds.syn_rate_off = 100;
  start(config(s));
  std::uint32_t n = 0;
  // A 3-second flood at 5000 SYNs/s.
  for (; n < 15000; ++n) {
    clock_.advance(milliseconds(1) / 5);
    spoofedSyn(n);
  }
  ASSERT_EQ(mode(), ServiceMode::kCookie);
  // The flood stops. The smoothed rate decays under 100/s after a dozen seconds; the hold of
  // 10 s counts from then, so nothing flips in the first 15 s...
  for (int i = 0; i < 15; ++i) {
    clock_.advance(seconds(1));
    eng().expire();
    ASSERT_EQ(mode(), ServiceMode::kCookie) << i;
  }
  // ...and it flips back once the rate has stayed low for the hold.
  for (int i = 0; i < 40 && mode() == ServiceMode::kCookie; ++i) {
    clock_.advance(seconds(1));
    eng().expire();
  }
  EXPECT_EQ(mode(), ServiceMode::kNormal);
  ASSERT_EQ(log_.changes.size(), 2U);
  EXPECT_LT(log_.changes[1].second.syn_rate, 100.0);
  EXPECT_GE(log_.changes[1].second.at - log_.changes[0].second.at, seconds(10));
  // Normal again: SYNs pass to the server and are tracked.
  EXPECT_EQ(spoofedSyn(n++), Verdict::accept(VerdictReason::kTracked));
}

TEST_F(ProtectionTest, SynsTheXdpPathAnsweredKeepCookieModeOnAndAddUp) {
  // XDP answers the flood's SYNs before the queue: only their counts reach the engine, in
  // batches (Engine::noteOffloaded). Adaptive mode must still see the flood, leave cookie mode
  // only after it ends, and every counter must add up as if the engine had answered them.
  ServiceConfig s = service();
  s.thresholds.half_open_on = 1'000'000;
  s.thresholds.half_open_off = 500'000;
  s.thresholds.syn_rate_on = 1000;
  s.thresholds.syn_rate_off = 100;
  start(config(s));
  std::uint32_t n = 0;
  for (; n < 1000; ++n) {  // the engine's own SYNs enter cookie mode
    clock_.advance(microseconds(500));
    spoofedSyn(n);
  }
  ASSERT_EQ(mode(), ServiceMode::kCookie);
  const EngineStats before = st();
  const std::uint64_t syns_before = eng().service(0).syns;
  // 20 s of a 5000/s flood answered by XDP, reported every 100 ms: cookie mode holds.
  for (int i = 0; i < 200; ++i) {
    clock_.advance(milliseconds(100));
    eng().noteOffloaded(0, OffloadedCounts{.syns_answered = 500,
                                           .bytes_answered = 500 * 60,
                                           .denied = i == 0 ? 7U : 0U,
                                           .denied_bytes = i == 0 ? 7U * 40 : 0U});
    eng().expire();
    ASSERT_EQ(mode(), ServiceMode::kCookie) << i;
  }
  EXPECT_EQ(st().packets - before.packets, 100'007U);
  EXPECT_EQ(st().bytes - before.bytes, 100'000U * 60 + 7 * 40);
  EXPECT_EQ(st().cookies_sent - before.cookies_sent, 100'000U);
  EXPECT_EQ(dropped(VerdictReason::kCookieSent) -
                before.dropped[static_cast<std::size_t>(VerdictReason::kCookieSent)],
            100'000U);
  EXPECT_EQ(dropped(VerdictReason::kDenied), 7U);
  EXPECT_EQ(eng().service(0).syns - syns_before, 100'000U);
  EXPECT_EQ(eng().service(0).cookies_sent, st().cookies_sent);
  std::uint32_t half_open = 0;
  double rate = 0;
  eng().localLoad(0, half_open, rate);
  EXPECT_GT(rate, 4000.0);
  // The flood ends: the mode machine leaves cookie mode as it does for its own SYNs.
  for (int i = 0; i < 60 && mode() == ServiceMode::kCookie; ++i) {
    clock_.advance(seconds(1));
    eng().noteOffloaded(0, OffloadedCounts{});
    eng().expire();
  }
  EXPECT_EQ(mode(), ServiceMode::kNormal);
  ASSERT_EQ(log_.changes.size(), 2U);
  EXPECT_GE(log_.changes[1].second.at - log_.changes[0].second.at, seconds(30));
  // A service index the engine does not have (a reload removed it) is ignored.
  const std::uint64_t packets = st().packets;
  eng().noteOffloaded(5, OffloadedCounts{.syns_answered = 9});
  EXPECT_EQ(st().packets, packets);
}

TEST_F(ProtectionTest, AnExcursionDuringTheHoldRestartsIt) {
  EngineConfig cfg = config(service());
  ASSERT_TRUE(cfg.protection.allow.add("192.0.2.0/24").has_value());
  start(cfg);
  for (std::uint32_t i = 0; i < 100; ++i) {
    spoofedSyn(i);
  }
  ASSERT_EQ(mode(), ServiceMode::kCookie);
  // The flood's half-open connections time out (SYN-SENT, 120 s): calm from then on.
  clock_.advance(seconds(121));
  eng().expire();
  EXPECT_EQ(eng().service(0).half_open, 0U);
  ASSERT_EQ(mode(), ServiceMode::kCookie);
  // 5 s into the hold, allow-listed clients (they skip cookies) open 60 half-open
  // connections: above the "off" mark of 50, so the hold starts over.
  clock_.advance(seconds(5));
  for (std::uint16_t i = 0; i < 60; ++i) {
    ASSERT_EQ(synFrom("192.0.2.10", static_cast<std::uint16_t>(30000 + i)),
              Verdict::accept(VerdictReason::kTracked));
  }
  EXPECT_EQ(eng().service(0).half_open, 60U);
  // 10 s after the first calm moment: without the excursion it would have flipped by now.
  clock_.advance(seconds(6));
  eng().expire();
  EXPECT_EQ(mode(), ServiceMode::kCookie);
  // The 60 complete their handshakes; the hold runs its full 10 s again from there.
  for (std::uint16_t i = 0; i < 60; ++i) {
    const auto port = static_cast<std::uint16_t>(30000 + i);
    eng().process(PacketBuilder::ipv4(kServer, "192.0.2.10")
                      .tcp(80, port)
                      .syn()
                      .seq(9)
                      .ack(port + 1U)
                      .build());
  }
  EXPECT_EQ(eng().service(0).half_open, 60U) << "SYN-RECEIVED is still half-open";
  for (std::uint16_t i = 0; i < 60; ++i) {
    const auto port = static_cast<std::uint16_t>(30000 + i);
    eng().process(
        PacketBuilder::ipv4("192.0.2.10", kServer).tcp(port, 80).seq(port + 1U).ack(10).build());
  }
  EXPECT_EQ(eng().service(0).half_open, 0U);
  clock_.advance(seconds(1));
  eng().expire();  // calm again from here
  clock_.advance(seconds(9));
  eng().expire();
  EXPECT_EQ(mode(), ServiceMode::kCookie);
  clock_.advance(seconds(1));
  eng().expire();
  EXPECT_EQ(mode(), ServiceMode::kNormal);
  ASSERT_EQ(log_.changes.size(), 2U);
  EXPECT_EQ(log_.changes[1].second.half_open, 0U);
}

TEST_F(ProtectionTest, MonitorModeCountsWhatItWouldDoAndAcceptsEverything) {
  ServiceConfig s = service(ProtectionMode::kAlways);
  s.monitor = true;
  s.per_source.syn_rate = 1;
  s.per_source.syn_burst = 1;
  start(config(s));
  EXPECT_EQ(synFrom("192.0.2.10", 40000), Verdict::accept(VerdictReason::kTracked));
  EXPECT_EQ(synFrom("192.0.2.10", 40001), Verdict::accept(VerdictReason::kTracked));
  EXPECT_TRUE(sink_.packets().empty());
  EXPECT_EQ(eng().stats().would_cookie, 2U);
  EXPECT_EQ(would(VerdictReason::kSourceRate), 1U);
  EXPECT_EQ(eng().service(0).would_cookie, 2U);
  // A random ACK to a cookie-mode service would be dropped as an invalid cookie: counted, passed.
  EXPECT_EQ(
      eng()
          .process(PacketBuilder::ipv4("192.0.2.77", kServer).tcp(5555, 80).seq(1).ack(2).build())
          .action,
      Action::kAccept);
  EXPECT_EQ(would(VerdictReason::kCookieInvalid), 1U);
  EXPECT_EQ(dropped(VerdictReason::kCookieInvalid), 0U);
}

TEST_F(ProtectionTest, StraySegmentsWithNoConnectionAreDroppedInCookieModeOnly) {
  // RST, SYN-ACK and flag combinations without ACK cannot open a connection: in cookie mode a
  // flood of them never reaches the server; otherwise they are tracked strays, as ever.
  const auto rst = [](std::uint16_t sport) {
    return PacketBuilder::ipv4("203.0.113.9", kServer).tcp(sport, 80).rst().seq(sport).build();
  };
  const auto synack = [](std::uint16_t sport) {
    return PacketBuilder::ipv4("203.0.113.9", kServer)
        .tcp(sport, 80)
        .syn()
        .seq(7)
        .ack(sport)
        .build();
  };
  const auto fin = [](std::uint16_t sport) {
    return PacketBuilder::ipv4("203.0.113.9", kServer).tcp(sport, 80).fin().seq(sport).build();
  };
  const auto rst_ack = [](std::uint16_t sport) {
    return PacketBuilder::ipv4("203.0.113.9", kServer)
        .tcp(sport, 80)
        .rst()
        .seq(3)
        .ack(sport)
        .build();
  };
  start(config(service(ProtectionMode::kAdaptive)));
  ASSERT_EQ(mode(), ServiceMode::kNormal);
  EXPECT_EQ(eng().process(rst(1000)), Verdict::accept(VerdictReason::kInvalid));
  EXPECT_EQ(eng().process(synack(1001)).action, Action::kAccept);  // a mid-stream pickup

  start(config(service(ProtectionMode::kAlways)));
  ASSERT_EQ(mode(), ServiceMode::kCookie);
  for (std::uint16_t p = 2000; p < 2100; ++p) {
    ASSERT_EQ(eng().process(rst(p)), Verdict::drop(VerdictReason::kNoConnection));
    ASSERT_EQ(eng().process(synack(p)), Verdict::drop(VerdictReason::kNoConnection));
    ASSERT_EQ(eng().process(fin(p)), Verdict::drop(VerdictReason::kNoConnection));
    ASSERT_EQ(eng().process(rst_ack(p)), Verdict::drop(VerdictReason::kNoConnection));
  }
  EXPECT_EQ(dropped(VerdictReason::kNoConnection), 400U);
  EXPECT_EQ(eng().table().size(), 0U);
  EXPECT_TRUE(sink_.packets().empty());
  // Another destination is not the service's business.
  EXPECT_EQ(
      eng().process(PacketBuilder::ipv4("203.0.113.9", "192.0.2.200").tcp(5, 80).rst().build()),
      Verdict::accept(VerdictReason::kInvalid));

  ServiceConfig m = service(ProtectionMode::kAlways);
  m.monitor = true;
  start(config(m));
  EXPECT_EQ(eng().process(rst(3000)).action, Action::kAccept);
  EXPECT_EQ(would(VerdictReason::kNoConnection), 1U);
  EXPECT_EQ(dropped(VerdictReason::kNoConnection), 0U);
}

TEST_F(ProtectionTest, SynAcksWrittenIntoTheSinksBufferEqualTheCopiedOnes) {
  // The daemon's sender offers its send buffer (reserve/commit), so a cookie SYN-ACK is written
  // in place; a sink that does not gets a copy through emit(). Byte for byte the same (the
  // capturing sink fills its room with 0xee first: every committed byte is written).
  ServiceConfig s = service(ProtectionMode::kAlways);
  ASSERT_TRUE(s.addresses.add("2001:db8:5::/64").has_value());
  const std::vector<std::vector<std::byte>> syns = {
      PacketBuilder::ipv4("203.0.113.9", kServer).tcp(1000, 80).syn().seq(5).mss(1400).build(),
      PacketBuilder::ipv4("203.0.113.9", kServer)
          .tcp(1001, 80)
          .syn()
          .seq(6)
          .mss(1460)
          .wscale(9)
          .sackPermitted()
          .timestamps(777, 0)
          .build(),
      PacketBuilder::ipv6("2001:db8:66::9", "2001:db8:5::10")
          .tcp(1002, 80)
          .syn()
          .seq(7)
          .mss(1440)
          .timestamps(778, 0)
          .build(),
  };
  std::vector<std::vector<std::byte>> written[2];
  for (const bool room : {true, false}) {
    start(config(s));
    sink_.offer_room = room;
    for (const auto& p : syns) {
      ASSERT_EQ(eng().process(p), Verdict::drop(VerdictReason::kCookieSent));
    }
    written[room ? 0 : 1] = sink_.packets();
  }
  sink_.offer_room = true;
  ASSERT_EQ(written[0].size(), 3U);
  EXPECT_EQ(written[0], written[1]);
  for (const auto& out : written[0]) {
    engine::Segment seg;
    engine::ParseOptions verify;
    verify.verify_checksum = true;
    EXPECT_EQ(engine::parseSegment(out, seg, verify), engine::ParseError::kNone);
    EXPECT_TRUE(seg.has(engine::kSyn) && seg.has(engine::kAck));
  }
}

TEST_F(ProtectionTest, CorruptSynsAreNeitherAnsweredNorTrackedWhenTheKernelDidNotVerify) {
  // NFQUEUE says whether anything checked the TCP checksum (NFQA_SKB_CSUM_NOTVERIFIED). A SYN
  // with a wrong one would be dropped by the server: it gets no cookie, starts no half-open
  // connection and is not counted as a SYN to the service.
  const auto syn = [](std::uint16_t sport, bool corrupt) {
    auto p = PacketBuilder::ipv4("203.0.113.9", kServer).tcp(sport, 80).syn().seq(sport).build();
    if (corrupt) {
      p[20 + 16] ^= std::byte{0x01};  // the TCP checksum's high byte
    }
    return p;
  };
  engine::PacketMeta unverified;
  unverified.checksum_unverified = true;
  for (const ProtectionMode m : {ProtectionMode::kAlways, ProtectionMode::kOff}) {
    start(config(service(m)));
    auto bad = syn(1000, true);
    EXPECT_EQ(eng().processMutable(bad, unverified), Verdict::drop(VerdictReason::kMalformed));
    EXPECT_EQ(eng().stats().parse_errors[static_cast<std::size_t>(ParseError::kBadChecksum)], 1U);
    EXPECT_EQ(eng().service(0).syns, 0U);
    EXPECT_TRUE(sink_.packets().empty());
    EXPECT_EQ(eng().table().size(), 0U);
    // A correct checksum passes the check; a NIC that verified it is trusted (no second sum).
    auto good = syn(1001, false);
    auto trusted = syn(1002, true);
    const Verdict g = eng().processMutable(good, unverified);
    const Verdict t = eng().process(trusted);
    if (m == ProtectionMode::kAlways) {
      EXPECT_EQ(g, Verdict::drop(VerdictReason::kCookieSent));
      EXPECT_EQ(t, Verdict::drop(VerdictReason::kCookieSent));
      EXPECT_EQ(sink_.packets().size(), 2U);
    } else {
      EXPECT_EQ(g.action, Action::kAccept);
      EXPECT_EQ(t.action, Action::kAccept);
      EXPECT_EQ(eng().table().size(), 2U);
    }
    EXPECT_EQ(eng().service(0).syns, 2U);
  }
  // Monitor mode only counts what it would have dropped.
  ServiceConfig mon = service(ProtectionMode::kAlways);
  mon.monitor = true;
  start(config(mon));
  auto bad = syn(1003, true);
  EXPECT_EQ(eng().processMutable(bad, unverified).action, Action::kAccept);
  EXPECT_EQ(would(VerdictReason::kMalformed), 1U);
  // Not a service's SYN: not ours to check.
  auto other = PacketBuilder::ipv4("203.0.113.9", "192.0.2.200").tcp(5, 80).syn().build();
  other[20 + 16] ^= std::byte{0x01};
  EXPECT_EQ(eng().processMutable(other, unverified).action, Action::kAccept);
}

TEST_F(ProtectionTest, TcpFragmentsToACookieModeServiceAreDropped) {
  // Later fragments are not reassembled here: whatever they reassemble into at the server was
  // never validated. (First fragments and unsafe ones: fragment_test.cc.)
  const auto later = [](const char* dst) {
    return PacketBuilder::ipv4("203.0.113.9", dst).tcp(4000, 80).syn().fragment(8, false).build();
  };
  ServiceConfig s = service(ProtectionMode::kAlways);
  ASSERT_TRUE(s.addresses.add("2001:db8:5::/64").has_value());
  start(config(s));
  EXPECT_EQ(eng().process(later(kServer)), Verdict::drop(VerdictReason::kFragment));
  EXPECT_EQ(eng().process(PacketBuilder::ipv6("2001:db8:66::9", "2001:db8:5::10")
                              .tcp(4000, 80)
                              .syn()
                              .fragment(9, false)
                              .build()),
            Verdict::drop(VerdictReason::kFragment));
  // IPv6: the fragmentable part may begin with an extension header before TCP.
  const auto dstopts = PacketBuilder::ipv6("2001:db8:66::9", "2001:db8:5::10")
                           .tcp(4000, 80)
                           .syn()
                           .ipv6ExtensionHeader(60, {1, 4, 0, 0, 0, 0})
                           .payload(200)
                           .build();
  EXPECT_EQ(eng().process(testing::fragmentOf(dstopts, 64, 200, false)),
            Verdict::drop(VerdictReason::kFragment));
  EXPECT_EQ(dropped(VerdictReason::kFragment), 3U);
  // Another address: not ours to judge.
  EXPECT_EQ(eng().process(later("192.0.2.200")), Verdict::accept(VerdictReason::kFragment));
  EXPECT_TRUE(sink_.packets().empty());

  start(config(service(ProtectionMode::kAdaptive)));  // normal mode: fragments pass, counted
  EXPECT_EQ(eng().process(later(kServer)), Verdict::accept(VerdictReason::kFragment));

  ServiceConfig m = service(ProtectionMode::kAlways);
  m.monitor = true;
  start(config(m));
  EXPECT_EQ(eng().process(later(kServer)).action, Action::kAccept);
  EXPECT_EQ(would(VerdictReason::kFragment), 1U);
}

TEST_F(ProtectionTest, GlobalDryRunMonitorsEveryService) {
  EngineConfig cfg = config(service(ProtectionMode::kAlways));
  cfg.protection.dry_run = true;
  ASSERT_TRUE(cfg.protection.deny.add("203.0.113.0/24").has_value());
  start(cfg);
  EXPECT_EQ(synFrom("203.0.113.5", 1000), Verdict::accept(VerdictReason::kTracked));
  EXPECT_EQ(would(VerdictReason::kDenied), 1U);
  EXPECT_EQ(eng().stats().would_cookie, 1U);
  EXPECT_TRUE(sink_.packets().empty());
}

TEST_F(ProtectionTest, PerSourceSynRateIsATokenBucketPerPrefix) {
  ServiceConfig s = service();
  s.per_source.syn_rate = 10;
  s.per_source.syn_burst = 5;
  start(config(s));
  for (std::uint16_t i = 0; i < 5; ++i) {
    EXPECT_EQ(synFrom("192.0.2.10", static_cast<std::uint16_t>(40000 + i)),
              Verdict::accept(VerdictReason::kTracked));
  }
  // The burst is spent, for every address of the /24.
  EXPECT_EQ(synFrom("192.0.2.99", 41000), Verdict::drop(VerdictReason::kSourceRate));
  // Another prefix has its own bucket.
  EXPECT_EQ(synFrom("192.0.3.10", 41000), Verdict::accept(VerdictReason::kTracked));
  // 100 ms later one token (10/s) has come back.
  clock_.advance(milliseconds(100));
  EXPECT_EQ(synFrom("192.0.2.10", 41001), Verdict::accept(VerdictReason::kTracked));
  EXPECT_EQ(synFrom("192.0.2.10", 41002), Verdict::drop(VerdictReason::kSourceRate));
  EXPECT_EQ(dropped(VerdictReason::kSourceRate), 2U);
}

TEST_F(ProtectionTest, PerSourceHalfOpenLimitFreesAsHandshakesComplete) {
  ServiceConfig s = service();
  s.per_source.max_half_open = 3;
  start(config(s));
  for (std::uint16_t i = 0; i < 3; ++i) {
    ASSERT_EQ(synFrom("192.0.2.10", static_cast<std::uint16_t>(40000 + i)),
              Verdict::accept(VerdictReason::kTracked));
  }
  EXPECT_EQ(synFrom("192.0.2.11", 40003), Verdict::drop(VerdictReason::kSourceHalfOpen));
  EXPECT_EQ(synFrom("192.0.3.1", 40003), Verdict::accept(VerdictReason::kTracked));
  // One of them completes: the prefix may open another.
  eng().process(
      PacketBuilder::ipv4(kServer, "192.0.2.10").tcp(80, 40000).syn().seq(9).ack(40001).build());
  eng().process(
      PacketBuilder::ipv4("192.0.2.10", kServer).tcp(40000, 80).seq(40001).ack(10).build());
  EXPECT_EQ(synFrom("192.0.2.11", 40004), Verdict::accept(VerdictReason::kTracked));
  EXPECT_EQ(eng().service(0).half_open, 4U);
}

TEST_F(ProtectionTest, AllowedSourcesSkipCookiesAndDeniedOnesAreDropped) {
  EngineConfig cfg = config(service(ProtectionMode::kAlways));
  ASSERT_TRUE(cfg.protection.allow.add("192.0.2.0/28").has_value());
  ASSERT_TRUE(cfg.protection.allow.add("2001:db8:c::/48").has_value());
  ASSERT_TRUE(cfg.protection.deny.add("203.0.113.0/24").has_value());
  start(cfg);
  EXPECT_EQ(synFrom("192.0.2.10", 40000), Verdict::accept(VerdictReason::kTracked));
  EXPECT_EQ(synFrom("192.0.2.20", 40000), Verdict::drop(VerdictReason::kCookieSent));
  EXPECT_EQ(synFrom("203.0.113.9", 40000), Verdict::drop(VerdictReason::kDenied));
  // Denied sources lose every segment to the service, not only SYNs.
  EXPECT_EQ(
      eng().process(PacketBuilder::ipv4("203.0.113.9", kServer).tcp(1, 80).seq(1).ack(1).build()),
      Verdict::drop(VerdictReason::kDenied));
  EXPECT_EQ(dropped(VerdictReason::kDenied), 2U);
  EXPECT_EQ(sink_.packets().size(), 1U);
}

TEST_F(ProtectionTest, OnlyConfiguredServicesAreProtected) {
  start(config(service(ProtectionMode::kAlways)));
  EXPECT_EQ(synFrom("192.0.2.10", 40000, "198.51.100.1"),
            Verdict::drop(VerdictReason::kCookieSent));
  EXPECT_EQ(synFrom("192.0.2.10", 40000, "198.51.101.1"), Verdict::accept(VerdictReason::kTracked));
  EXPECT_EQ(
      eng().process(PacketBuilder::ipv4("192.0.2.10", kServer).tcp(40001, 22).syn().seq(1).build()),
      Verdict::accept(VerdictReason::kTracked));
}

TEST_F(ProtectionTest, OffTracksOnlyWhateverTheFlood) {
  start(config(service(ProtectionMode::kOff)));
  for (std::uint32_t i = 0; i < 500; ++i) {
    ASSERT_EQ(spoofedSyn(i), Verdict::accept(VerdictReason::kTracked));
  }
  EXPECT_EQ(mode(), ServiceMode::kNormal);
  EXPECT_EQ(eng().service(0).half_open, 500U);
  EXPECT_TRUE(sink_.packets().empty());
}

TEST_F(ProtectionTest, ValidCookiesStillJoinAfterTheFloodEnds) {
  // A client answered with a cookie just before the service went back to normal must still
  // get its connection: valid cookies are honoured in any mode but "off".
  ServiceConfig s = service();
  s.thresholds.hold = seconds(0);
  EngineConfig cfg = config(s);
  cfg.timeouts.syn_sent = seconds(5);
  start(cfg);
  for (std::uint32_t i = 0; i < 100; ++i) {
    spoofedSyn(i);
  }
  ASSERT_EQ(synFrom("192.0.2.10", 40000), Verdict::drop(VerdictReason::kCookieSent));
  Segment sa;
  ASSERT_EQ(parseSegment(sink_.packets().back(), sa), ParseError::kNone);
  clock_.advance(seconds(6));
  eng().expire();
  ASSERT_EQ(mode(), ServiceMode::kNormal);
  sink_.clear();
  EXPECT_EQ(eng().process(PacketBuilder::ipv4("192.0.2.10", kServer)
                              .tcp(40000, 80)
                              .seq(40001)
                              .ack(sa.seq.raw() + 1)
                              .build()),
            Verdict::drop(VerdictReason::kProxyHandshake));
  ASSERT_EQ(sink_.packets().size(), 1U);
  EXPECT_EQ(sink_.directions()[0], Direction::kToServer);
  // A stale or forged one, in normal mode, is an ordinary mid-stream pickup.
  EXPECT_EQ(eng().process(PacketBuilder::ipv4("192.0.2.10", kServer)
                              .tcp(40001, 80)
                              .seq(40001)
                              .ack(sa.seq.raw() + 1)
                              .build()),
            Verdict::accept(VerdictReason::kTracked));
}

TEST_F(ProtectionTest, ConfigurationMistakesAreRejected) {
  EngineConfig cfg = config(service());
  ServiceConfig other = service();
  other.name = "api";
  other.addresses = PrefixSet{};
  ASSERT_TRUE(other.addresses.add("198.51.100.128/25").has_value());
  cfg.protection.services.push_back(other);
  auto r = Engine::create(cfg, secrets_, clock_, sink_);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("overlap"), std::string::npos);

  cfg.protection.services[1].ports = {{8080, 8080}};
  EXPECT_TRUE(Engine::create(cfg, secrets_, clock_, sink_).has_value())
      << "same prefix, other port";

  EngineConfig bad = config(service());
  bad.protection.services[0].thresholds.half_open_off = 100;
  auto r2 = Engine::create(bad, secrets_, clock_, sink_);
  ASSERT_FALSE(r2.has_value());
  EXPECT_NE(r2.error().message.find("web"), std::string::npos);

  EngineConfig noports = config(service());
  noports.protection.services[0].ports.clear();
  EXPECT_FALSE(Engine::create(noports, secrets_, clock_, sink_).has_value());

  EngineConfig delay = config(service());
  delay.protection.proxy.max_ack_delay = seconds(10);
  EXPECT_FALSE(Engine::create(delay, secrets_, clock_, sink_).has_value());
}

}  // namespace
}  // namespace synguard::engine

namespace synguard::engine {
namespace {

/// What the other queues' engines report (set by the test).
class FixedLoad : public ServiceLoadSource {
 public:
  void othersLoad(std::size_t, std::uint32_t& half_open, double& syn_rate) const noexcept override {
    half_open += others_half_open;
    syn_rate += others_rate;
  }
  std::uint32_t others_half_open = 0;
  double others_rate = 0;
};

TEST_F(ProtectionTest, EveryQueueDecidesOnTheServicesWholeLoad) {
  // Two queues each see half of a service's half-open connections: alone neither would reach
  // the threshold of 100; with the other's share published, both switch.
  start(config(service()));
  FixedLoad others;
  eng().setLoadSource(&others);
  for (std::uint32_t i = 0; i < 60; ++i) {
    spoofedSyn(i);
  }
  EXPECT_EQ(mode(), ServiceMode::kNormal);
  std::uint32_t mine = 0;
  double rate = 0;
  eng().localLoad(0, mine, rate);
  EXPECT_EQ(mine, 60U);
  EXPECT_GE(rate, 60.0);
  others.others_half_open = 45;  // the other queue's share, as it publishes it
  clock_.advance(milliseconds(1));
  eng().expire();
  EXPECT_EQ(mode(), ServiceMode::kCookie);
  ASSERT_EQ(log_.changes.size(), 1U);
  EXPECT_EQ(log_.changes[0].second.half_open, 105U);
}

}  // namespace
}  // namespace synguard::engine

namespace synguard::engine {
namespace {

TEST_F(ProtectionTest, CookieModeResetsStaleHalfOpenConnectionsAtTheServer) {
  // The flood's first SYNs reach the server before the switch; the server answers them and
  // holds them in its SYN queue. Once in cookie mode, those still unanswered after 1 s are
  // reset at the server so its queue is free for the proxied clients.
  start(config(service()));
  floodAnsweredByServer(100);
  ASSERT_EQ(mode(), ServiceMode::kCookie);
  ASSERT_EQ(eng().service(0).half_open, 100U);
  sink_.clear();
  clock_.advance(milliseconds(500));
  eng().expire();
  EXPECT_TRUE(sink_.packets().empty()) << "not stale yet";
  clock_.advance(milliseconds(600));
  eng().expire();
  ASSERT_EQ(sink_.packets().size(), 100U);
  Segment rst;
  ASSERT_EQ(parseSegment(sink_.packets()[0], rst), ParseError::kNone);
  EXPECT_EQ(rst.flags, kRst);
  EXPECT_EQ(sink_.directions()[0], Direction::kToServer);
  EXPECT_EQ(rst.dst, *IpAddress::parse(kServer));
  EXPECT_EQ(rst.seq.raw(), 1U) << "the client's ISN (0) + 1: exactly the server's RCV.NXT";
  EXPECT_EQ(eng().stats().half_open_reaped, 100U);
  EXPECT_EQ(eng().service(0).half_open, 0U);
  EXPECT_EQ(eng().stats().connections_ended[static_cast<std::size_t>(EndCause::kReaped)], 100U);
}

TEST_F(ProtectionTest, NormalAndMonitorModesNeverReap) {
  ServiceConfig s = service();
  s.monitor = true;
  start(config(s));
  floodAnsweredByServer(100);
  clock_.advance(seconds(2));
  eng().expire();
  EXPECT_EQ(eng().stats().half_open_reaped, 0U);
  EXPECT_EQ(eng().service(0).half_open, 100U);
}

TEST_F(ProtectionTest, ReloadKeepsModeHalfOpenCountsAndConnections) {
  start(config(service()));
  floodAnsweredByServer(120);
  ASSERT_EQ(mode(), ServiceMode::kCookie);
  const std::size_t table = eng().table().size();
  const std::uint64_t syns = eng().service(0).syns;
  ASSERT_EQ(eng().service(0).half_open, 100U) << "the 20 SYNs after the switch got cookies";
  EngineConfig next = config(service());
  next.protection.services[0].thresholds.half_open_on = 1000;
  next.protection.services[0].thresholds.half_open_off = 500;
  next.table_capacity = 4;  // sizes fixed at start are kept, not applied
  ASSERT_TRUE(eng().reconfigure(next).has_value());
  EXPECT_EQ(mode(), ServiceMode::kCookie) << "an adaptive service keeps its mode";
  EXPECT_EQ(eng().service(0).half_open, 100U);
  EXPECT_EQ(eng().service(0).syns, syns);
  EXPECT_EQ(eng().table().size(), table);
  EXPECT_EQ(eng().table().capacity(), std::size_t{1} << 16);
  EXPECT_EQ(eng().config().protection.services[0].thresholds.half_open_on, 1000U);
  EXPECT_EQ(eng().stats().reconfigurations, 1U);
  // Under the new "off" (500) for the hold time: back to normal.
  clock_.advance(seconds(11));
  spoofedSyn(500);
  clock_.advance(seconds(11));
  spoofedSyn(501);
  EXPECT_EQ(mode(), ServiceMode::kNormal);
}

TEST_F(ProtectionTest, ReloadMatchesServicesByNameAndRecountsHalfOpen) {
  start(config(service()));
  floodAnsweredByServer(30);
  ASSERT_EQ(eng().service(0).half_open, 30U);
  EngineConfig next = config(service(ProtectionMode::kAlways));
  next.protection.services[0].name = "api";  // a new service over the same addresses
  ServiceConfig other = service();
  other.name = "web";
  other.addresses = PrefixSet{};
  ASSERT_TRUE(other.addresses.add("203.0.113.0/24").has_value());
  next.protection.services.push_back(other);
  ASSERT_TRUE(eng().reconfigure(next).has_value());
  ASSERT_EQ(eng().serviceCount(), 2U);
  EXPECT_EQ(eng().service(0).half_open, 30U) << "counted on the service that now covers them";
  EXPECT_EQ(eng().service(0).mode.mode(), ServiceMode::kCookie) << "mode always";
  EXPECT_EQ(eng().service(1).half_open, 0U);
  EXPECT_EQ(eng().service(1).syns, 30U) << "'web' keeps its counters";
  EXPECT_EQ(spoofedSyn(1000), Verdict::drop(VerdictReason::kCookieSent));
}

TEST_F(ProtectionTest, InvalidReloadChangesNothing) {
  start(config(service()));
  floodAnsweredByServer(10);
  EngineConfig bad = config(service());
  bad.protection.services[0].thresholds.half_open_off = 200;  // off >= on
  const auto r = eng().reconfigure(bad);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("off must be below on"), std::string::npos);
  EngineConfig overlap = config(service());
  overlap.protection.services.push_back(service());
  overlap.protection.services[1].name = "twin";
  EXPECT_FALSE(eng().reconfigure(overlap).has_value());
  EXPECT_EQ(eng().serviceCount(), 1U);
  EXPECT_EQ(eng().config().protection.services[0].thresholds.half_open_off, 50U);
  EXPECT_EQ(eng().service(0).half_open, 10U);
  EXPECT_EQ(eng().stats().reconfigurations, 0U);
}

TEST_F(ProtectionTest, ReloadedDenyListAppliesAtOnce) {
  start(config(service()));
  ASSERT_EQ(spoofedSyn(1), Verdict::accept(VerdictReason::kTracked));
  EngineConfig next = config(service());
  ASSERT_TRUE(next.protection.deny.add("10.0.0.0/8").has_value());
  ASSERT_TRUE(eng().reconfigure(next).has_value());
  EXPECT_EQ(spoofedSyn(2), Verdict::drop(VerdictReason::kDenied));
}

}  // namespace
}  // namespace synguard::engine
