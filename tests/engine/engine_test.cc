#include "engine/engine.h"

#include <gtest/gtest.h>

#include "tests/engine/engine_fixture.h"

namespace synguard::engine {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr Verdict kTracked = Verdict::accept(VerdictReason::kTracked);
constexpr Verdict kIgnored = Verdict::accept(VerdictReason::kIgnored);
constexpr Verdict kInvalid = Verdict::accept(VerdictReason::kInvalid);

TEST_F(EngineTest, ThreeWayHandshakeCountsHalfOpenUntilTheFinalAck) {
  EXPECT_EQ(send(c2s().syn().seq(1000)), kTracked);
  EXPECT_EQ(state(), TcpState::kSynSent);
  EXPECT_EQ(conn()->ep[0].state, TcpState::kSynSent);
  EXPECT_EQ(conn()->ep[1].state, TcpState::kSynReceived);
  EXPECT_EQ(eng().halfOpen().global(), 1U);

  EXPECT_EQ(send(s2c().syn().seq(5000).ack(1001)), kTracked);
  EXPECT_EQ(state(), TcpState::kSynReceived);
  EXPECT_EQ(conn()->ep[0].state, TcpState::kEstablished);
  EXPECT_EQ(eng().halfOpen().global(), 1U);

  // The final ACK may carry data (RFC 9293 §3.5).
  EXPECT_EQ(send(c2s().seq(1001).ack(5001).payload(100)), kTracked);
  EXPECT_EQ(state(), TcpState::kEstablished);
  EXPECT_EQ(conn()->ep[1].state, TcpState::kEstablished);
  EXPECT_EQ(eng().halfOpen().global(), 0U);
  EXPECT_EQ(eng().halfOpen().peak(), 1U);
  EXPECT_EQ(eng().stats().handshakes_completed, 1U);
  EXPECT_EQ(eng().stats().connections_by_state[index(TcpState::kEstablished)], 1U);
}

TEST_F(EngineTest, SynAckMustAcknowledgeIsnPlusOne) {
  ASSERT_EQ(send(c2s().syn().seq(1000)), kTracked);
  EXPECT_EQ(send(s2c().syn().seq(5000).ack(1000)), kInvalid);
  EXPECT_EQ(send(s2c().syn().seq(5000).ack(1002)), kInvalid);
  EXPECT_EQ(invalid(InvalidReason::kSynAckBadAck), 2U);
  EXPECT_EQ(state(), TcpState::kSynSent);
  EXPECT_EQ(send(s2c().syn().seq(5000).ack(1001)), kTracked);
  EXPECT_EQ(state(), TcpState::kSynReceived);
}

TEST_F(EngineTest, SynAndSynAckRetransmissionsKeepOneHalfOpenConnection) {
  ASSERT_EQ(send(c2s().syn().seq(1000)), kTracked);
  clock_.advance(seconds(1));
  EXPECT_EQ(send(c2s().syn().seq(1000)), kTracked);
  EXPECT_EQ(eng().halfOpen().global(), 1U);
  EXPECT_EQ(eng().halfOpen().globalSyns(), 2U);
  ASSERT_EQ(send(s2c().syn().seq(5000).ack(1001)), kTracked);
  clock_.advance(seconds(1));
  EXPECT_EQ(send(s2c().syn().seq(5000).ack(1001)), kTracked);
  EXPECT_EQ(state(), TcpState::kSynReceived);
  EXPECT_EQ(send(c2s().seq(1001).ack(5001)), kTracked);
  EXPECT_EQ(state(), TcpState::kEstablished);
  // The server retransmits its SYN-ACK once more (our ACK was lost): harmless.
  EXPECT_NE(send(s2c().syn().seq(5000).ack(1001)), kInvalid);
  EXPECT_EQ(state(), TcpState::kEstablished);
  EXPECT_EQ(eng().halfOpen().global(), 0U);
}

TEST_F(EngineTest, SynWithNewIsnRestartsTheAttempt) {
  ASSERT_EQ(send(c2s().syn().seq(1000)), kTracked);
  EXPECT_EQ(send(c2s().syn().seq(77777)), kTracked);
  EXPECT_EQ(send(s2c().syn().seq(5000).ack(1001)), kInvalid);
  EXPECT_EQ(send(s2c().syn().seq(5000).ack(77778)), kTracked);
  EXPECT_EQ(eng().halfOpen().global(), 1U);
}

TEST_F(EngineTest, SimultaneousOpen) {
  ASSERT_EQ(send(c2s().syn().seq(1000)), kTracked);
  ASSERT_EQ(send(s2c().syn().seq(5000)), kTracked);
  EXPECT_EQ(conn()->ep[0].state, TcpState::kSynReceived);
  EXPECT_EQ(conn()->ep[1].state, TcpState::kSynReceived);
  EXPECT_EQ(state(), TcpState::kSynReceived);
  EXPECT_EQ(send(c2s().syn().seq(1000).ack(5001)), kTracked);
  EXPECT_EQ(conn()->ep[1].state, TcpState::kEstablished);
  EXPECT_EQ(send(s2c().syn().seq(5000).ack(1001)), kTracked);
  EXPECT_EQ(conn()->ep[0].state, TcpState::kEstablished);
  EXPECT_EQ(state(), TcpState::kEstablished);
  EXPECT_EQ(eng().halfOpen().global(), 0U);
}

TEST_F(EngineTest, FourWayCloseWithHalfCloseAndTimeWaitOfTwoMsl) {
  handshake();
  ASSERT_EQ(send(c2s().seq(1001).ack(5001).payload(10)), kTracked);
  // Client closes first: FIN consumes one sequence number.
  EXPECT_EQ(send(c2s().fin().seq(1011).ack(5001)), kTracked);
  EXPECT_EQ(conn()->ep[0].state, TcpState::kFinWait1);
  EXPECT_EQ(conn()->ep[1].state, TcpState::kCloseWait);
  EXPECT_EQ(state(), TcpState::kFinWait1);
  // An ACK that does not cover the FIN changes nothing.
  EXPECT_EQ(send(s2c().seq(5001).ack(1011)), kTracked);
  EXPECT_EQ(conn()->ep[0].state, TcpState::kFinWait1);
  EXPECT_EQ(send(s2c().seq(5001).ack(1012)), kTracked);
  EXPECT_EQ(conn()->ep[0].state, TcpState::kFinWait2);
  EXPECT_EQ(state(), TcpState::kCloseWait);
  // Half-close: the CLOSE-WAIT side keeps sending, the FIN-WAIT-2 side keeps acking.
  for (std::uint32_t i = 0; i < 5; ++i) {
    EXPECT_EQ(send(s2c().seq(5001 + i * 1000).ack(1012).payload(1000)), kTracked);
    EXPECT_EQ(send(c2s().seq(1012).ack(5001 + (i + 1) * 1000)), kTracked);
  }
  // But the client may not send data after its FIN.
  EXPECT_EQ(send(c2s().seq(1012).ack(10001).payload(5)), kInvalid);
  EXPECT_EQ(invalid(InvalidReason::kDataAfterFin), 1U);
  EXPECT_EQ(send(s2c().fin().seq(10001).ack(1012)), kTracked);
  EXPECT_EQ(conn()->ep[0].state, TcpState::kTimeWait);
  EXPECT_EQ(conn()->ep[1].state, TcpState::kLastAck);
  EXPECT_EQ(state(), TcpState::kLastAck);
  EXPECT_EQ(send(c2s().seq(1012).ack(10002)), kTracked);
  EXPECT_EQ(conn()->ep[1].state, TcpState::kClosed);
  EXPECT_EQ(state(), TcpState::kTimeWait);

  // TIME-WAIT lasts 2*MSL: a retransmitted FIN (our last ACK was lost) is still answered.
  clock_.advance(seconds(60));
  eng().expire();
  EXPECT_EQ(send(s2c().fin().seq(10001).ack(1012)), kTracked);
  EXPECT_EQ(state(), TcpState::kTimeWait);
  clock_.advance(seconds(120) - milliseconds(1));
  eng().expire();
  EXPECT_EQ(state(), TcpState::kTimeWait);
  clock_.advance(milliseconds(1));
  eng().expire();
  EXPECT_EQ(conn(), nullptr);
  ASSERT_EQ(observer_.ended.size(), 1U);
  EXPECT_EQ(observer_.ended[0].outcome, "SF");
  EXPECT_EQ(observer_.ended[0].cause, EndCause::kTimeout);
}

TEST_F(EngineTest, FinAckThatAcknowledgesTheFirstFinGoesStraightToTimeWait) {
  handshake();
  ASSERT_EQ(send(c2s().fin().seq(1001).ack(5001)), kTracked);
  ASSERT_EQ(send(s2c().fin().seq(5001).ack(1002)), kTracked);
  EXPECT_EQ(conn()->ep[0].state, TcpState::kTimeWait);
  EXPECT_EQ(conn()->ep[1].state, TcpState::kLastAck);
  ASSERT_EQ(send(c2s().seq(1002).ack(5002)), kTracked);
  EXPECT_EQ(state(), TcpState::kTimeWait);
}

TEST_F(EngineTest, SimultaneousCloseGoesThroughClosing) {
  handshake();
  ASSERT_EQ(send(c2s().fin().seq(1001).ack(5001)), kTracked);
  // The server's FIN crossed the client's: it does not acknowledge it.
  ASSERT_EQ(send(s2c().fin().seq(5001).ack(1001)), kTracked);
  EXPECT_EQ(conn()->ep[0].state, TcpState::kClosing);
  EXPECT_EQ(conn()->ep[1].state, TcpState::kClosing);
  EXPECT_EQ(state(), TcpState::kClosing);
  ASSERT_EQ(send(c2s().seq(1002).ack(5002)), kTracked);
  EXPECT_EQ(conn()->ep[1].state, TcpState::kTimeWait);
  ASSERT_EQ(send(s2c().seq(5002).ack(1002)), kTracked);
  EXPECT_EQ(conn()->ep[0].state, TcpState::kTimeWait);
  EXPECT_EQ(state(), TcpState::kTimeWait);
}

TEST_F(EngineTest, NewSynReopensATimeWaitConnection) {
  handshake();
  ASSERT_EQ(send(c2s().fin().seq(1001).ack(5001)), kTracked);
  ASSERT_EQ(send(s2c().fin().seq(5001).ack(1002)), kTracked);
  ASSERT_EQ(send(c2s().seq(1002).ack(5002)), kTracked);
  ASSERT_EQ(state(), TcpState::kTimeWait);
  clock_.advance(seconds(5));
  EXPECT_EQ(send(c2s().syn().seq(900000)), kTracked);
  EXPECT_EQ(state(), TcpState::kSynSent);
  EXPECT_EQ(eng().halfOpen().global(), 1U);
  EXPECT_EQ(eng().stats().connections_reopened, 1U);
  ASSERT_EQ(observer_.ended.size(), 1U);
  EXPECT_EQ(observer_.ended[0].cause, EndCause::kReopened);
  EXPECT_EQ(observer_.ended[0].outcome, "SF");
}

TEST_F(EngineTest, NewSynReopensAClosedConnectionInTheOtherDirection) {
  handshake();
  ASSERT_EQ(send(s2c().rst().seq(5001)), kTracked);
  ASSERT_EQ(state(), TcpState::kClosed);
  // The old responder now opens towards the old originator on the same tuple.
  EXPECT_EQ(send(s2c().syn().seq(42)), kTracked);
  const Connection* c = conn();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->key.orig_addr, *IpAddress::parse(kServer));
  EXPECT_EQ(c->state, TcpState::kSynSent);
}

TEST_F(EngineTest, OnlyAnExactRstClosesAnEstablishedConnection) {
  handshake();
  ASSERT_EQ(send(s2c().seq(5001).ack(1001).payload(100)), kTracked);
  // In window but not RCV.NXT: counted as suspicious and left to the challenge ACK.
  EXPECT_EQ(send(s2c().rst().seq(5050)), kIgnored);
  EXPECT_EQ(eng().stats().rst_in_window, 1U);
  EXPECT_EQ(state(), TcpState::kEstablished);
  // Far outside the window: invalid.
  EXPECT_EQ(send(s2c().rst().seq(5101 + 10'000'000)), kInvalid);
  EXPECT_EQ(invalid(InvalidReason::kRstOutOfWindow), 1U);
  EXPECT_EQ(state(), TcpState::kEstablished);
  // Exact: seq == the server's next sequence number.
  EXPECT_EQ(send(s2c().rst().ack(1001).seq(5101)), kTracked);
  EXPECT_EQ(state(), TcpState::kClosed);
  EXPECT_EQ(conn()->ep[0].state, TcpState::kClosed);
  EXPECT_EQ(conn()->ep[1].state, TcpState::kClosed);
  // CLOSED lasts 10 s.
  clock_.advance(seconds(10));
  eng().expire();
  EXPECT_EQ(conn(), nullptr);
  ASSERT_EQ(observer_.ended.size(), 1U);
  EXPECT_EQ(observer_.ended[0].outcome, "RSTR");
}

TEST_F(EngineTest, RefusedConnectionIsRejAndLeavesHalfOpen) {
  ASSERT_EQ(send(c2s().syn().seq(1000)), kTracked);
  // A RST to SYN-SENT counts only if it acknowledges the SYN.
  EXPECT_EQ(send(s2c().rst().seq(0).ack(1000)), kInvalid);
  EXPECT_EQ(invalid(InvalidReason::kRstNotAcceptable), 1U);
  EXPECT_EQ(eng().halfOpen().global(), 1U);
  EXPECT_EQ(send(s2c().rst().seq(0).ack(1001)), kTracked);
  EXPECT_EQ(state(), TcpState::kClosed);
  EXPECT_EQ(eng().halfOpen().global(), 0U);
  eng().flush();
  ASSERT_EQ(observer_.ended.size(), 1U);
  EXPECT_EQ(observer_.ended[0].outcome, "REJ");
}

TEST_F(EngineTest, OriginatorSynThenRstIsRstos0) {
  ASSERT_EQ(send(c2s().syn().seq(1000)), kTracked);
  EXPECT_EQ(send(c2s().rst().seq(1001)), kTracked);
  EXPECT_EQ(state(), TcpState::kClosed);
  EXPECT_EQ(eng().halfOpen().global(), 0U);
  eng().flush();
  ASSERT_EQ(observer_.ended.size(), 1U);
  EXPECT_EQ(observer_.ended[0].outcome, "RSTOS0");
}

TEST_F(EngineTest, MidStreamPickupAssumesEstablished) {
  EXPECT_EQ(send(c2s().seq(123456).ack(654321).payload(50)), kTracked);
  EXPECT_EQ(state(), TcpState::kEstablished);
  EXPECT_EQ(eng().stats().connections_picked_up, 1U);
  EXPECT_EQ(eng().halfOpen().global(), 0U);
  EXPECT_EQ(send(s2c().seq(654321).ack(123506).payload(20)), kTracked);
  EXPECT_EQ(send(s2c().fin().seq(654341).ack(123506)), kTracked);
  EXPECT_EQ(conn()->ep[1].state, TcpState::kFinWait1);
  EXPECT_EQ(send(c2s().fin().seq(123506).ack(654342)), kTracked);
  EXPECT_EQ(send(s2c().seq(654342).ack(123507)), kTracked);
  EXPECT_EQ(state(), TcpState::kTimeWait);
}

TEST_F(EngineTest, PickupGuessesTheServerByPort) {
  // First packet seen goes from the server port to an ephemeral one.
  EXPECT_EQ(send(s2c().seq(1).ack(2).payload(10)), kTracked);
  const Connection* c = conn();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->key.orig_addr, *IpAddress::parse(kClient));
  EXPECT_EQ(c->key.resp_port, kSport);
}

TEST_F(EngineTest, PickupCanBeDisabled) {
  EngineConfig cfg;
  cfg.pickup_midstream = false;
  start(cfg);
  EXPECT_EQ(send(c2s().seq(1).ack(2)), Verdict::accept(VerdictReason::kUntracked));
  EXPECT_EQ(conn(), nullptr);
  EXPECT_EQ(send(c2s().syn().seq(1)), kTracked);
}

TEST_F(EngineTest, StrayRstAndBadFlagsCreateNothing) {
  EXPECT_EQ(send(c2s().rst().seq(1)), kInvalid);
  EXPECT_EQ(send(c2s().flags(kSyn | kFin).seq(1)), kInvalid);
  EXPECT_EQ(send(c2s().flags(kFin).seq(1)), kInvalid);
  EXPECT_EQ(send(c2s().flags(0).seq(1)), kInvalid);
  EXPECT_EQ(invalid(InvalidReason::kNoConnection), 4U);
  EXPECT_EQ(eng().table().size(), 0U);
  EXPECT_EQ(eng().halfOpen().globalSyns(), 0U);
}

TEST_F(EngineTest, BadFlagsOnATrackedConnectionAreInvalid) {
  handshake();
  EXPECT_EQ(send(c2s().flags(kSyn | kFin | kAck).seq(1001).ack(5001)), kInvalid);
  EXPECT_EQ(send(c2s().flags(kSyn | kRst).seq(1001)), kInvalid);
  EXPECT_EQ(invalid(InvalidReason::kBadFlags), 2U);
  EXPECT_EQ(state(), TcpState::kEstablished);
}

TEST_F(EngineTest, SynOnEstablishedIsLeftToTheChallengeAck) {
  handshake();
  EXPECT_EQ(send(c2s().syn().seq(99)), kIgnored);
  EXPECT_EQ(eng().stats().syn_on_synchronized, 1U);
  EXPECT_EQ(state(), TcpState::kEstablished);
  EXPECT_EQ(eng().halfOpen().global(), 0U);
}

TEST_F(EngineTest, OutOfWindowSegmentsAreInvalidWithAReason) {
  handshake();
  // Window 502 << 7 = 64256 bytes from the client; the server may send up to ack + that.
  EXPECT_EQ(send(s2c().seq(5001 + 64256 + 1).ack(1001).payload(10)), kInvalid);
  EXPECT_EQ(invalid(InvalidReason::kSeqAboveWindow), 1U);
  EXPECT_EQ(send(s2c().seq(5001).ack(1001 + 5000)), kInvalid);
  EXPECT_EQ(invalid(InvalidReason::kAckAboveSent), 1U);
  EXPECT_EQ(send(c2s().seq(1001).ack(5001 - 70000)), kInvalid);
  EXPECT_EQ(invalid(InvalidReason::kAckBelowWindow), 1U);
  EXPECT_EQ(send(c2s().seq(1001 - 200000).ack(5001).payload(10)), kInvalid);
  EXPECT_EQ(invalid(InvalidReason::kSeqBelowWindow), 1U);
  EXPECT_EQ(state(), TcpState::kEstablished);
}

TEST_F(EngineTest, WindowScaleAppliesOnlyWhenBothSidesOfferIt) {
  ASSERT_EQ(send(c2s().syn().seq(1000).wscale(7)), kTracked);
  ASSERT_EQ(send(s2c().syn().seq(5000).ack(1001)), kTracked);  // no wscale
  ASSERT_EQ(send(c2s().seq(1001).ack(5001).window(1000)), kTracked);
  // Without scaling the client offered 1000 bytes: 1001 bytes past the ack is out of window.
  EXPECT_EQ(send(s2c().seq(5001 + 1001).ack(1001).payload(1)), kInvalid);
  EXPECT_EQ(send(s2c().seq(5001).ack(1001).payload(1000)), kTracked);
}

TEST_F(EngineTest, EachStateTimesOutAfterItsOwnTimeout) {
  EngineConfig cfg;
  cfg.timeouts.unassured = std::chrono::hours(1);  // half-open: min(state, unassured) timeout
  start(cfg);
  ASSERT_EQ(send(c2s().syn().seq(1000)), kTracked);
  clock_.advance(seconds(119));
  eng().expire();
  EXPECT_EQ(state(), TcpState::kSynSent);
  clock_.advance(seconds(1));
  eng().expire();
  EXPECT_EQ(conn(), nullptr);
  EXPECT_EQ(eng().halfOpen().global(), 0U);
  ASSERT_EQ(observer_.ended.size(), 1U);
  EXPECT_EQ(observer_.ended[0].outcome, "S0");

  ASSERT_EQ(send(c2s().syn().seq(1000)), kTracked);
  ASSERT_EQ(send(s2c().syn().seq(5000).ack(1001)), kTracked);
  clock_.advance(seconds(60));
  eng().expire();
  EXPECT_EQ(conn(), nullptr);
  EXPECT_EQ(eng().halfOpen().global(), 0U);

  handshake();
  clock_.advance(std::chrono::hours(24 * 5) - seconds(1));
  eng().expire();
  EXPECT_EQ(state(), TcpState::kEstablished);
  clock_.advance(seconds(1));
  eng().expire();
  EXPECT_EQ(conn(), nullptr);
  EXPECT_EQ(eng().stats().connections_ended[static_cast<std::size_t>(EndCause::kTimeout)], 3U);
}

TEST_F(EngineTest, ActivityRefreshesTheTimeout) {
  handshake();
  for (int i = 0; i < 10; ++i) {
    clock_.advance(std::chrono::hours(24 * 4));
    ASSERT_EQ(send(c2s().seq(1001).ack(5001)), kTracked);
  }
  EXPECT_EQ(state(), TcpState::kEstablished);
}

TEST_F(EngineTest, MalformedPacketsAreDroppedWithTheirReason) {
  auto bytes = c2s().syn().seq(1).build();
  bytes.resize(30);  // cut inside the TCP header
  EXPECT_EQ(eng().process(bytes), Verdict::drop(VerdictReason::kMalformed));
  EXPECT_EQ(
      eng().stats().parse_errors[static_cast<std::size_t>(ParseError::kTotalLengthMismatch)] +
          eng().stats().parse_errors[static_cast<std::size_t>(ParseError::kTruncatedTcpHeader)],
      1U);
  EXPECT_EQ(eng().table().size(), 0U);
}

TEST_F(EngineTest, Ipv6HandshakeAndClose) {
  using testing::PacketBuilder;
  const auto a = [] {
    return PacketBuilder::ipv6("2001:db8::10", "2001:db8:1::1").tcp(50000, 443);
  };
  const auto b = [] {
    return PacketBuilder::ipv6("2001:db8:1::1", "2001:db8::10").tcp(443, 50000);
  };
  EXPECT_EQ(send(a().syn().seq(7)), kTracked);
  EXPECT_EQ(eng().halfOpen().global(), 1U);
  EXPECT_EQ(send(b().syn().seq(70).ack(8)), kTracked);
  EXPECT_EQ(send(a().seq(8).ack(71)), kTracked);
  EXPECT_EQ(eng().halfOpen().global(), 0U);
  EXPECT_EQ(send(a().fin().seq(8).ack(71)), kTracked);
  EXPECT_EQ(send(b().fin().seq(71).ack(9)), kTracked);
  EXPECT_EQ(send(a().seq(9).ack(72)), kTracked);
  const Connection* c = conn("2001:db8::10", 50000, "2001:db8:1::1", 443);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->state, TcpState::kTimeWait);
  // Source prefixes are /64 for IPv6.
  const auto& src = eng().halfOpen().sources();
  EXPECT_NE(src.find(*IpAddress::parse("2001:db8::"), 0), kNoIndex);
}

TEST_F(EngineTest, FullTableEvictsOldestHalfOpenButNeverEstablished) {
  EngineConfig cfg;
  cfg.table_capacity = 4;
  cfg.emergency.enter_fill = 1.0;
  cfg.emergency.leave_fill = 0.9;
  start(cfg);
  // Two established (assured: handshakes seen) connections and two half-open ones.
  using testing::PacketBuilder;
  const auto est = [this](std::uint16_t p) {
    const auto up = [p] { return PacketBuilder::ipv4("192.0.2.50", "198.51.100.1").tcp(p, 443); };
    const auto down = [p] { return PacketBuilder::ipv4("198.51.100.1", "192.0.2.50").tcp(443, p); };
    if (send(up().syn().seq(1)) != kTracked || send(down().syn().seq(100).ack(2)) != kTracked) {
      return Verdict::drop(VerdictReason::kMalformed);
    }
    return send(up().seq(2).ack(101));
  };
  ASSERT_EQ(est(1000), kTracked);
  ASSERT_EQ(est(1001), kTracked);
  const auto syn = [](const char* src) {
    return PacketBuilder::ipv4(src, "198.51.100.1").tcp(40000, 80).syn().seq(1);
  };
  ASSERT_EQ(send(syn("203.0.113.1")), kTracked);
  clock_.advance(milliseconds(10));
  ASSERT_EQ(send(syn("203.0.113.2")), kTracked);
  clock_.advance(milliseconds(10));
  EXPECT_EQ(send(syn("203.0.113.3")), kTracked);
  EXPECT_EQ(eng().stats().connections_ended[static_cast<std::size_t>(EndCause::kEvicted)], 1U);
  EXPECT_EQ(conn("203.0.113.1", 40000, "198.51.100.1", 80), nullptr);
  EXPECT_NE(conn("203.0.113.2", 40000, "198.51.100.1", 80), nullptr);
  EXPECT_EQ(eng().halfOpen().global(), 2U);
  // Now fill it with established connections only: new SYNs go untracked.
  start(cfg);
  for (std::uint16_t p = 0; p < 4; ++p) {
    ASSERT_EQ(est(static_cast<std::uint16_t>(2000 + p)), kTracked);
  }
  EXPECT_EQ(send(syn("203.0.113.9")), Verdict::accept(VerdictReason::kUntracked));
  EXPECT_EQ(eng().stats().table_full, 1U);
  EXPECT_EQ(eng().table().size(), 4U);
  EXPECT_EQ(eng().halfOpen().global(), 0U);
}

TEST_F(EngineTest, EmergencyModeShortensHalfOpenTimeoutsUnderPressure) {
  EngineConfig cfg;
  cfg.table_capacity = 16;
  cfg.emergency.enter_fill = 0.5;
  cfg.emergency.leave_fill = 0.25;
  start(cfg);
  using testing::PacketBuilder;
  for (int i = 0; i < 9; ++i) {
    const std::string src = "203.0.113." + std::to_string(i + 1);
    ASSERT_EQ(send(PacketBuilder::ipv4(src, kServer).tcp(1234, 80).syn().seq(1)), kTracked);
  }
  EXPECT_EQ(eng().stats().emergency, 1U);
  EXPECT_EQ(eng().stats().emergency_entered, 1U);
  clock_.advance(seconds(10));  // emergency SYN-SENT timeout, instead of 120 s
  eng().expire();
  EXPECT_EQ(eng().table().size(), 0U);
  EXPECT_EQ(eng().halfOpen().global(), 0U);
  EXPECT_EQ(eng().stats().emergency, 0U);
  // Back to normal timeouts (SYN-SENT: min(120 s, unassured 30 s)).
  ASSERT_EQ(send(c2s().syn().seq(1)), kTracked);
  clock_.advance(seconds(20));
  eng().expire();
  EXPECT_EQ(state(), TcpState::kSynSent);
}

TEST_F(EngineTest, CreateRejectsImpossibleConfigurations) {
  EngineConfig cfg;
  cfg.table_capacity = 0;
  EXPECT_FALSE(Engine::create(cfg, testing::testSecrets(), clock_, sink_).has_value());
  cfg = EngineConfig{};
  cfg.emergency.leave_fill = 0.95;
  EXPECT_FALSE(Engine::create(cfg, testing::testSecrets(), clock_, sink_).has_value());
  cfg = EngineConfig{};
  cfg.timeouts.established = std::chrono::hours(24 * 30);
  EXPECT_FALSE(Engine::create(cfg, testing::testSecrets(), clock_, sink_).has_value());
  cfg = EngineConfig{};
  cfg.half_open.source_prefix_v4 = 33;
  EXPECT_FALSE(Engine::create(cfg, testing::testSecrets(), clock_, sink_).has_value());
}

TEST_F(EngineTest, ClockSteppingBackwardsDoesNotExpireOrCrash) {
  handshake();
  clock_.set(MonotonicTime{std::chrono::seconds(10)});
  EXPECT_EQ(send(c2s().seq(1001).ack(5001)), kTracked);
  EXPECT_EQ(state(), TcpState::kEstablished);
}

TEST(EngineReload, KeepsWhatWasSizedAtStartAndNamesWhatTheNewConfigurationChanged) {
  EngineConfig running;
  running.table_capacity = 1024;
  EngineConfig next = running;
  EXPECT_TRUE(Engine::keepOnReload(next, running).empty());
  next.table_capacity = 4096;
  next.half_open.source_prefix_v4 = 16;
  next.protection.cookies.window = running.protection.cookies.window * 2;
  next.pickup_midstream = !running.pickup_midstream;  // not sized at start: taken
  const std::vector<const char*> kept = Engine::keepOnReload(next, running);
  ASSERT_EQ(kept.size(), 3U);
  EXPECT_STREQ(kept[0], "table capacity");
  EXPECT_STREQ(kept[1], "source prefix lengths");
  EXPECT_STREQ(kept[2], "cookie window and MSS tables");
  EXPECT_EQ(next.table_capacity, 1024U);
  EXPECT_EQ(next.half_open.source_prefix_v4, running.half_open.source_prefix_v4);
  EXPECT_EQ(next.protection.cookies.window, running.protection.cookies.window);
  EXPECT_NE(next.pickup_midstream, running.pickup_midstream);
}

TEST_F(EngineTest, AReloadKeepsTheTableItWasStartedWith) {
  EngineConfig small;
  small.table_capacity = 1024;
  start(small);
  EngineConfig next = small;
  next.table_capacity = 1U << 16;
  next.record_stray = true;
  ASSERT_TRUE(eng().reconfigure(next).has_value());
  EXPECT_EQ(eng().config().table_capacity, 1024U);
  EXPECT_EQ(eng().table().capacity(), 1024U);
  EXPECT_TRUE(eng().config().record_stray);
}

}  // namespace
}  // namespace synguard::engine
