// Unassured entries (the `spoofed_server` and `server_side` attacks at the engine): spoofed
// segments "from the protected service" must neither open the door for a later SYN nor fill the
// table for good; entries become assured only when the other side answers consistently, unassured
// ones are short-lived and evictable within their share of the table; one source cannot hold the
// whole proxy table; the accounting's overflow entry does not limit everyone.

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>

#include "engine/engine.h"
#include "tests/support/engine_harness.h"
#include "tests/support/invariants.h"

namespace synguard::engine {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::PacketBuilder;

constexpr const char* kServer = "198.51.100.1";
constexpr std::uint16_t kSport = 8080;

/// A client address in 203.0.113.0/24 .. 203.0.125.0/24 (distinct prefixes for i >= 256).
std::string client(std::uint32_t i) {
  return "203.0." + std::to_string(113 + i / 250) + "." + std::to_string(1 + i % 250);
}
std::uint16_t cport(std::uint32_t i) { return static_cast<std::uint16_t>(20000 + i % 30000); }

class UnassuredTest : public ::testing::Test, protected testing::EngineHarness {
 protected:
  UnassuredTest()
      : EngineHarness(testing::testSecrets(SipKey{0x0123456789abcdefULL, 0xfedcba9876543210ULL})) {}

  static EngineConfig config(ProtectionMode mode) {
    EngineConfig cfg;
    cfg.table_capacity = 1024;
    ServiceConfig s;
    s.name = "web";
    EXPECT_TRUE(s.addresses.add("198.51.100.1/32").has_value());
    s.ports = {{kSport, kSport}};
    s.mode = mode;
    // Adaptive: thresholds no test reaches, so it stays in normal mode.
    s.thresholds.half_open_on = 100000;
    s.thresholds.half_open_off = 50000;
    s.thresholds.syn_rate_on = 1e6;
    s.thresholds.syn_rate_off = 1e5;
    cfg.protection.services.push_back(s);
    cfg.protection.proxy.capacity = 4096;
    cfg.protection.proxy.early_segment_buffers = 16;
    cfg.protection.reap_half_open_after = milliseconds(0);
    return cfg;
  }

  void SetUp() override { start(config(ProtectionMode::kAlways)); }

  static PacketBuilder up(std::uint32_t i, const char* srv = kServer, std::uint16_t sp = kSport) {
    return PacketBuilder::ipv4(client(i), srv).tcp(cport(i), sp);
  }
  static PacketBuilder down(std::uint32_t i, const char* srv = kServer, std::uint16_t sp = kSport) {
    return PacketBuilder::ipv4(srv, client(i)).tcp(sp, cport(i));
  }
  const Connection* conn(std::uint32_t i, const char* srv = kServer, std::uint16_t sp = kSport) {
    const FlowKey k{*IpAddress::parse(client(i)), *IpAddress::parse(srv), cport(i), sp};
    const auto f = engine_->table().find(k);
    return f.idx == kNoIndex ? nullptr : &engine_->table().at(f.idx);
  }
  std::uint64_t ended(EndCause c) const {
    return st().connections_ended[static_cast<std::size_t>(c)];
  }
  std::uint64_t evicted(EvictKind k) const { return st().evictions[static_cast<std::size_t>(k)]; }

  /// Client i's SYN answered with a cookie, then its ACK: the verdict of the ACK.
  Verdict cookieHandshake(std::uint32_t i) {
    sink_.clear();
    const Verdict syn = send(up(i).syn().seq(1000));
    EXPECT_EQ(syn, Verdict::drop(VerdictReason::kCookieSent)) << client(i);
    EXPECT_EQ(sink_.packets().size(), 1U);
    if (sink_.packets().empty()) {
      return syn;
    }
    Segment sa;
    EXPECT_EQ(parseSegment(sink_.packets()[0], sa), ParseError::kNone);
    sink_.clear();
    return send(up(i).seq(1001).ack(sa.seq.raw() + 1));
  }
  void expectInvariants() { EXPECT_EQ(testing::engineInvariantProblems(eng()), ""); }
};

// Attack 1, cookie mode: a SYN-ACK "from the service" to C:p, then C:p's SYN. The SYN-ACK
// makes no entry; the SYN gets a cookie. Before: 300 of 300 such SYNs passed as tracked.
TEST_F(UnassuredTest, SpoofedServerSynAckThenSynGetsACookie) {
  for (std::uint32_t i = 0; i < 300; ++i) {
    EXPECT_EQ(send(down(i).syn().seq(77).ack(1001)), Verdict::drop(VerdictReason::kServerSide));
    EXPECT_EQ(send(up(i).syn().seq(1000)), Verdict::drop(VerdictReason::kCookieSent));
  }
  EXPECT_EQ(dropped(VerdictReason::kServerSide), 300U);
  EXPECT_EQ(st().cookies_sent, 300U);
  EXPECT_EQ(eng().table().size(), 0U);
  EXPECT_EQ(st().syn_on_synchronized, 0U);
  expectInvariants();
}

TEST_F(UnassuredTest, SpoofedServerAckThenSynGetsACookie) {
  for (std::uint32_t i = 0; i < 300; ++i) {
    EXPECT_EQ(send(down(i).seq(77).ack(1001)), Verdict::drop(VerdictReason::kServerSide));
    EXPECT_EQ(send(up(i).syn().seq(1000)), Verdict::drop(VerdictReason::kCookieSent));
  }
  EXPECT_EQ(st().cookies_sent, 300U);
  EXPECT_EQ(eng().table().size(), 0U);
  expectInvariants();
}

// Monitor mode decides nothing: the spoofed segment is counted as what would have been dropped.
TEST_F(UnassuredTest, MonitoredServiceOnlyCountsServerSideStrays) {
  EngineConfig cfg = config(ProtectionMode::kAlways);
  cfg.protection.services[0].monitor = true;
  start(cfg);
  EXPECT_EQ(send(down(1).seq(77).ack(1001)).action, Action::kAccept);
  EXPECT_EQ(st().would_drop[static_cast<std::size_t>(VerdictReason::kServerSide)], 1U);
}

// Attack 1, normal mode: the pickups are made, but a SYN on one ends it and is counted as the
// SYN and half-open connection it is (a spoofed pickup cannot hide a flood from the counters).
TEST_F(UnassuredTest, InNormalModeTheSynAfterASpoofedPickupIsCountedAndHalfOpen) {
  start(config(ProtectionMode::kAdaptive));
  for (std::uint32_t i = 0; i < 100; ++i) {
    const PacketBuilder spoof =
        i % 2 == 0 ? down(i).syn().seq(77).ack(1001) : down(i).seq(77).ack(1001);
    ASSERT_EQ(send(spoof).action, Action::kAccept);
    const Connection* c = conn(i);
    ASSERT_NE(c, nullptr);
    EXPECT_FALSE(c->assured());
    EXPECT_EQ(c->key.resp_addr, *IpAddress::parse(kServer));  // the service is the responder
    EXPECT_EQ(send(up(i).syn().seq(1000)), Verdict::accept(VerdictReason::kTracked));
    c = conn(i);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->state, TcpState::kSynSent);
    EXPECT_NE(c->flags & kConnHalfOpenCounted, 0);
  }
  EXPECT_EQ(ended(EndCause::kSuperseded), 100U);
  EXPECT_EQ(eng().service(0).syns, 100U);
  EXPECT_EQ(eng().service(0).half_open, 100U);
  EXPECT_EQ(eng().halfOpen().global(), 100U);
  EXPECT_EQ(st().syn_on_synchronized, 0U);
  expectInvariants();
}

// Attack 2, cookie mode: 3,000 spoofed ACKs "from the service" to distinct clients make no
// entry, and valid cookie ACKs are proxied. Before: the table filled for good, proxy full.
TEST_F(UnassuredTest, SpoofedServerAcksCannotFillTheTableAgainstProxiedClients) {
  for (std::uint32_t i = 0; i < 3000; ++i) {
    EXPECT_EQ(send(down(i).seq(77).ack(1001)), Verdict::drop(VerdictReason::kServerSide));
  }
  EXPECT_EQ(eng().table().size(), 0U);
  for (std::uint32_t i = 5000; i < 5010; ++i) {
    EXPECT_EQ(cookieHandshake(i), Verdict::drop(VerdictReason::kProxyHandshake));
  }
  EXPECT_EQ(eng().proxies().size(), 10U);
  EXPECT_EQ(dropped(VerdictReason::kProxyFull), 0U);
  expectInvariants();
}

// Attack 2 where nothing drops the spoofed segments first (a server not protected, or a
// service in normal mode): pickups are unassured, take at most 3/4 of the table, and give
// way to proxied connections; assured connections are never evicted.
TEST_F(UnassuredTest, SpoofedPickupsStayWithinTheirShareAndGiveWayToProxied) {
  const char* other = "198.51.100.9";  // not a configured service
  for (std::uint32_t i = 0; i < 3000; ++i) {
    ASSERT_EQ(send(down(i, other, 80).seq(77).ack(1001)).action, Action::kAccept);
  }
  EXPECT_EQ(st().unassured, 768U);  // 1024 * (1 - 0.25)
  EXPECT_EQ(eng().table().size(), 768U);
  EXPECT_EQ(evicted(EvictKind::kUnassuredShare), 3000U - 768U);
  for (std::uint32_t i = 5000; i < 5256; ++i) {
    ASSERT_EQ(cookieHandshake(i), Verdict::drop(VerdictReason::kProxyHandshake)) << i;
  }
  EXPECT_EQ(eng().table().size(), 1024U);
  // Full: a proxied newcomer takes the oldest unassured entry's place.
  for (std::uint32_t i = 6000; i < 6100; ++i) {
    ASSERT_EQ(cookieHandshake(i), Verdict::drop(VerdictReason::kProxyHandshake)) << i;
  }
  EXPECT_EQ(evicted(EvictKind::kUnassured), 100U);
  EXPECT_EQ(eng().proxies().size(), 356U);
  EXPECT_EQ(dropped(VerdictReason::kProxyFull), 0U);
  EXPECT_EQ(st().unassured, 668U);
  // More spoofing changes nothing for the proxied: unassured entries replace each other.
  for (std::uint32_t i = 10000; i < 12000; ++i) {
    ASSERT_EQ(send(down(i, other, 80).seq(77).ack(1001)).action, Action::kAccept);
  }
  EXPECT_EQ(eng().proxies().size(), 356U);
  EXPECT_EQ(st().unassured, 668U);
  expectInvariants();
}

TEST_F(UnassuredTest, WithNoReserveAFullTableOfPickupsStillAdmitsProxied) {
  EngineConfig cfg = config(ProtectionMode::kAlways);
  cfg.assured_reserve = 0;
  start(cfg);
  for (std::uint32_t i = 0; i < 3000; ++i) {
    ASSERT_EQ(send(down(i, "198.51.100.9", 80).seq(77).ack(1001)).action, Action::kAccept);
  }
  EXPECT_EQ(eng().table().size(), 1024U);
  EXPECT_EQ(cookieHandshake(5000), Verdict::drop(VerdictReason::kProxyHandshake));
  EXPECT_EQ(cookieHandshake(5001), Verdict::drop(VerdictReason::kProxyHandshake));
  EXPECT_EQ(eng().proxies().size(), 2U);
  expectInvariants();
}

class AssuranceTest : public UnassuredTest {
 protected:
  void SetUp() override {
    EngineConfig cfg = config(ProtectionMode::kOff);
    cfg.emergency.enter_fill = 0.5;  // 512 entries
    cfg.emergency.leave_fill = 0.25;
    start(cfg);
  }
};

TEST_F(AssuranceTest, AHandshakeSeenToItsEndIsAssured) {
  ASSERT_EQ(send(up(1).syn().seq(1000)), Verdict::accept(VerdictReason::kTracked));
  EXPECT_FALSE(conn(1)->assured());
  ASSERT_EQ(send(down(1).syn().seq(5000).ack(1001)), Verdict::accept(VerdictReason::kTracked));
  EXPECT_FALSE(conn(1)->assured());
  ASSERT_EQ(send(up(1).seq(1001).ack(5001)), Verdict::accept(VerdictReason::kTracked));
  EXPECT_TRUE(conn(1)->assured());
  EXPECT_EQ(conn(1)->list, ConnectionTable::listOf(TcpState::kEstablished));
  EXPECT_EQ(st().unassured, 0U);
  EXPECT_EQ(st().connections_assured, 1U);
  // Assured: it lives the established timeout, and a SYN on it is left to the endpoint.
  clock_.advance(seconds(3600));
  eng().expire();
  ASSERT_NE(conn(1), nullptr);
  EXPECT_EQ(send(up(1).syn().seq(9)), Verdict::accept(VerdictReason::kIgnored));
  expectInvariants();
}

TEST_F(AssuranceTest, AnUnansweredHandshakeTimesOutAsUnassured) {
  ASSERT_EQ(send(up(1).syn().seq(1000)), Verdict::accept(VerdictReason::kTracked));
  clock_.advance(seconds(29));
  eng().expire();
  ASSERT_NE(conn(1), nullptr);  // SYN-SENT: min(120 s, unassured 30 s)
  clock_.advance(seconds(1));
  eng().expire();
  EXPECT_EQ(conn(1), nullptr);
}

TEST_F(AssuranceTest, APickupIsAssuredWhenTheResponderAcknowledgesWhatWasSeen) {
  ASSERT_EQ(send(up(1).seq(1000).ack(5000).payload(10)), Verdict::accept(VerdictReason::kTracked));
  EXPECT_FALSE(conn(1)->assured());
  EXPECT_EQ(conn(1)->list, ConnectionTable::kUnassuredList);
  EXPECT_EQ(st().connections_picked_up, 1U);
  // An answer that acknowledges data never sent does not assure it.
  ASSERT_EQ(send(down(1).seq(5000).ack(900000)).action, Action::kAccept);
  EXPECT_FALSE(conn(1)->assured());
  ASSERT_EQ(send(down(1).seq(5000).ack(1010)), Verdict::accept(VerdictReason::kTracked));
  EXPECT_TRUE(conn(1)->assured());
  EXPECT_EQ(conn(1)->list, ConnectionTable::listOf(TcpState::kEstablished));
  clock_.advance(seconds(3600));
  eng().expire();
  EXPECT_NE(conn(1), nullptr);
  expectInvariants();
}

TEST_F(AssuranceTest, APickupMadeFromTheServerSideNeedsTheServerToAnswerTheClient) {
  // The service's segment first (as a spoofer would send it), then the client's, then the
  // server's answer to what the client sent.
  ASSERT_EQ(send(down(1).seq(5000).ack(1000).payload(20)).action, Action::kAccept);
  ASSERT_EQ(conn(1)->key.resp_addr, *IpAddress::parse(kServer));
  ASSERT_EQ(send(up(1).seq(1000).ack(5020).payload(5)).action, Action::kAccept);
  EXPECT_FALSE(conn(1)->assured());
  ASSERT_EQ(send(down(1).seq(5020).ack(1005)).action, Action::kAccept);
  EXPECT_TRUE(conn(1)->assured());
}

TEST_F(AssuranceTest, AnUnansweredPickupTimesOutAfterTheUnassuredTimeout) {
  ASSERT_EQ(send(up(1).seq(1000).ack(5000)), Verdict::accept(VerdictReason::kTracked));
  EXPECT_EQ(conn(1)->state, TcpState::kEstablished);
  clock_.advance(seconds(29));
  ASSERT_EQ(send(up(1).seq(1000).ack(5000)), Verdict::accept(VerdictReason::kTracked));
  clock_.advance(seconds(29));  // refreshed by the client's own segment: still there
  eng().expire();
  ASSERT_NE(conn(1), nullptr);
  clock_.advance(seconds(1));
  eng().expire();
  EXPECT_EQ(conn(1), nullptr);
  EXPECT_EQ(ended(EndCause::kTimeout), 1U);
  EXPECT_EQ(st().unassured, 0U);
}

TEST_F(AssuranceTest, EmergencyModeShortensTheUnassuredTimeout) {
  for (std::uint32_t i = 0; i < 600; ++i) {
    ASSERT_EQ(send(up(i).seq(1000).ack(5000)).action, Action::kAccept);
  }
  EXPECT_TRUE(st().emergency);
  clock_.advance(seconds(4));
  eng().expire();
  EXPECT_EQ(eng().table().size(), 600U);
  clock_.advance(seconds(1));
  eng().expire();
  EXPECT_EQ(eng().table().size(), 0U);
  EXPECT_FALSE(st().emergency);
}

TEST_F(AssuranceTest, AStateTimeoutShorterThanTheUnassuredOneStillHolds) {
  // A stray RST's CLOSED entry ends after the CLOSED timeout (10 s) as far as any packet can
  // tell, though the unassured list holds it up to 30 s.
  EngineConfig cfg = config(ProtectionMode::kOff);
  cfg.record_stray = true;
  start(cfg);
  ASSERT_EQ(send(up(1).rst().seq(1000)).action, Action::kAccept);
  ASSERT_NE(conn(1), nullptr);
  clock_.advance(seconds(11));
  ASSERT_EQ(send(up(1).seq(1000).ack(5000)), Verdict::accept(VerdictReason::kTracked));
  EXPECT_EQ(ended(EndCause::kTimeout), 1U);
  EXPECT_EQ(conn(1)->state, TcpState::kEstablished);
}

// Unassured entries are evicted within their share; assured ones keep their slots.
TEST_F(AssuranceTest, TheReserveKeepsRoomForAssuredConnections) {
  EngineConfig cfg = config(ProtectionMode::kOff);
  cfg.table_capacity = 16;  // 12 unassured at most
  start(cfg);
  for (std::uint32_t i = 0; i < 3; ++i) {
    ASSERT_EQ(send(up(i).syn().seq(1000)).action, Action::kAccept);
    ASSERT_EQ(send(down(i).syn().seq(5000).ack(1001)).action, Action::kAccept);
    ASSERT_EQ(send(up(i).seq(1001).ack(5001)).action, Action::kAccept);
    ASSERT_TRUE(conn(i)->assured());
  }
  for (std::uint32_t i = 100; i < 120; ++i) {
    clock_.advance(milliseconds(1));
    ASSERT_EQ(send(up(i).seq(1000).ack(5000)).action, Action::kAccept);
  }
  EXPECT_EQ(st().unassured, 12U);
  EXPECT_EQ(evicted(EvictKind::kUnassuredShare), 8U);
  EXPECT_EQ(conn(100), nullptr);  // the oldest went first
  EXPECT_NE(conn(119), nullptr);
  for (std::uint32_t i = 0; i < 3; ++i) {
    EXPECT_NE(conn(i), nullptr);
  }
  // A new connection completes its handshake in a slot the unassured could not take.
  ASSERT_EQ(send(up(50).syn().seq(1000)).action, Action::kAccept);
  ASSERT_EQ(send(down(50).syn().seq(5000).ack(1001)).action, Action::kAccept);
  ASSERT_EQ(send(up(50).seq(1001).ack(5001)), Verdict::accept(VerdictReason::kTracked));
  EXPECT_TRUE(conn(50)->assured());
  // Assured established entries are never evicted: a table full of them leaves newcomers
  // untracked.
  for (std::uint32_t i = 60; i < 72; ++i) {
    ASSERT_EQ(send(up(i).syn().seq(1000)).action, Action::kAccept);
    ASSERT_EQ(send(down(i).syn().seq(5000).ack(1001)).action, Action::kAccept);
    ASSERT_EQ(send(up(i).seq(1001).ack(5001)).action, Action::kAccept);
  }
  EXPECT_EQ(eng().table().size(), 16U);
  EXPECT_EQ(st().unassured, 0U);
  EXPECT_EQ(send(up(99).seq(1000).ack(5000)), Verdict::accept(VerdictReason::kUntracked));
  for (std::uint32_t i = 0; i < 3; ++i) {
    EXPECT_NE(conn(i), nullptr);
  }
  expectInvariants();
}

// One source prefix holds at most proxy.max_per_source proxied connections.
TEST_F(UnassuredTest, ProxiedConnectionsPerSourceAreCapped) {
  EngineConfig cfg = config(ProtectionMode::kAlways);
  cfg.protection.proxy.max_per_source = 3;
  start(cfg);
  // Clients 0..2 and 3 share 203.0.113.0/24.
  for (std::uint32_t i = 0; i < 3; ++i) {
    ASSERT_EQ(cookieHandshake(i), Verdict::drop(VerdictReason::kProxyHandshake));
  }
  EXPECT_EQ(cookieHandshake(3), Verdict::drop(VerdictReason::kProxySourceLimit));
  EXPECT_EQ(dropped(VerdictReason::kProxySourceLimit), 1U);
  // Another prefix is not affected.
  EXPECT_EQ(cookieHandshake(300), Verdict::drop(VerdictReason::kProxyHandshake));
  EXPECT_EQ(eng().proxies().size(), 4U);
  expectInvariants();
  // The server refuses client 0's connection: its reference is released, a new one fits.
  const FlowKey k{*IpAddress::parse(client(0)), *IpAddress::parse(kServer), cport(0), kSport};
  const Connection& c0 = eng().table().at(eng().table().find(k).idx);
  const std::uint32_t client_isn = eng().proxyOf(c0)->client_isn;
  ASSERT_EQ(send(down(0).rst().ack(client_isn + 1)).action, Action::kDrop);
  EXPECT_EQ(st().proxy_refused, 1U);
  EXPECT_EQ(cookieHandshake(3), Verdict::drop(VerdictReason::kProxyHandshake));
  expectInvariants();
  eng().flush();
  expectInvariants();
}

// Sources beyond the accounting's capacity share its overflow entry; a per-source limit on it
// would refuse every one of them.
TEST_F(UnassuredTest, TheOverflowEntryIsNotLimited) {
  EngineConfig cfg = config(ProtectionMode::kAdaptive);
  cfg.half_open.source_capacity = 16;  // entry 0 is the overflow: 15 prefixes of their own
  cfg.protection.services[0].per_source.max_half_open = 1;
  cfg.protection.proxy.max_per_source = 1;
  start(cfg);
  for (std::uint32_t p = 0; p < 15; ++p) {
    ASSERT_EQ(send(up(p * 250).syn().seq(1000)), Verdict::accept(VerdictReason::kTracked)) << p;
  }
  // A named prefix is limited...
  EXPECT_EQ(send(up(1).syn().seq(1000)), Verdict::drop(VerdictReason::kSourceHalfOpen));
  // ... the sources sharing the overflow entry are not.
  for (std::uint32_t p = 15; p < 25; ++p) {
    EXPECT_EQ(send(up(p * 250).syn().seq(1000)), Verdict::accept(VerdictReason::kTracked)) << p;
  }
  EXPECT_EQ(dropped(VerdictReason::kSourceHalfOpen), 1U);
  EXPECT_EQ(st().source_limit_overflow, 10U);
  expectInvariants();
}

}  // namespace
}  // namespace synguard::engine
