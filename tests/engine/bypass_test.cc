// Established connections whose plain segments bypass the queue (EngineConfig::
// bypass_established): which verdicts allow it, and that the tracker still follows the close
// and resets after segments it never saw.
#include <gtest/gtest.h>

#include "engine/engine.h"
#include "tests/engine/engine_fixture.h"

namespace synguard::engine {
namespace {

using std::chrono::seconds;

class BypassTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineConfig cfg;
    cfg.bypass_established = true;
    start(cfg);
  }
};

TEST_F(BypassTest, OnlyPlainSegmentsOfEstablishedConnectionsMayBypass) {
  EXPECT_FALSE(send(c2s().syn().seq(1000)).bypass);
  EXPECT_FALSE(send(s2c().syn().seq(5000).ack(1001)).bypass);
  // The handshake's final ACK establishes the connection: from here on it may bypass.
  const Verdict v = send(c2s().seq(1001).ack(5001));
  EXPECT_EQ(v.reason, VerdictReason::kTracked);
  EXPECT_TRUE(v.bypass);
  EXPECT_EQ(eng().stats().bypass_started, 1U);
  // Segments that raced the kernel's set update still come, and are marked again.
  EXPECT_TRUE(send(s2c().seq(5001).ack(1001).payload(100)).bypass);
  EXPECT_EQ(eng().stats().bypass_started, 1U);
  // SYN, FIN and RST never carry it.
  EXPECT_FALSE(send(c2s().syn().seq(1000)).bypass);
  EXPECT_FALSE(send(c2s().fin().seq(1001).ack(5101)).bypass);
  EXPECT_FALSE(send(s2c().seq(5101).ack(1002).payload(10)).bypass);  // half-closed now
}

TEST_F(BypassTest, OffByDefaultAndForReplay) {
  start(EngineConfig{});
  handshake();
  EXPECT_FALSE(send(c2s().seq(1001).ack(5001).payload(10)).bypass);
  EXPECT_EQ(eng().stats().bypass_started, 0U);
}

TEST_F(BypassTest, CloseAfterUnseenDataEndsInTimeWait) {
  handshake();
  ASSERT_TRUE(send(c2s().seq(1001).ack(5001).payload(10)).bypass);
  // 3 GiB went from server to client and 5 MB the other way without us (more than 2^31: a
  // wrapped sequence space the tracker cannot order).
  const std::uint32_t s_end = 5001U + 3U * 1024U * 1024U * 1024U;
  const std::uint32_t c_end = 1011U + 5'000'000U;
  EXPECT_EQ(send(c2s().fin().seq(c_end).ack(s_end)), Verdict::accept(VerdictReason::kTracked));
  EXPECT_EQ(conn()->ep[0].state, TcpState::kFinWait1);
  // The server's side was skipped too: its next segment re-seeds it.
  EXPECT_EQ(send(s2c().seq(s_end).ack(c_end + 1)), Verdict::accept(VerdictReason::kTracked));
  EXPECT_EQ(conn()->ep[0].state, TcpState::kFinWait2);
  // Half-close: the server keeps sending, checked strictly again.
  EXPECT_EQ(send(s2c().seq(s_end).ack(c_end + 1).payload(1000)),
            Verdict::accept(VerdictReason::kTracked));
  EXPECT_EQ(send(s2c().fin().seq(s_end + 1000).ack(c_end + 1)),
            Verdict::accept(VerdictReason::kTracked));
  EXPECT_EQ(send(c2s().seq(c_end + 1).ack(s_end + 1001)), Verdict::accept(VerdictReason::kTracked));
  EXPECT_EQ(state(), TcpState::kTimeWait);
  EXPECT_EQ(eng().stats().invalid[static_cast<std::size_t>(InvalidReason::kDataAfterFin)], 0U);
}

TEST_F(BypassTest, ResetAfterUnseenDataClosesTheConnection) {
  handshake();
  ASSERT_TRUE(send(c2s().seq(1001).ack(5001)).bypass);
  // Far outside the window we last saw: without bypass this RST would be out of window.
  EXPECT_EQ(send(s2c().rst().seq(5001U + 0x90000000U)), Verdict::accept(VerdictReason::kTracked));
  EXPECT_EQ(state(), TcpState::kClosed);
  ASSERT_EQ(eng().halfOpen().global(), 0U);
}

TEST_F(BypassTest, WithoutBypassTheSameRstIsOutOfWindow) {
  start(EngineConfig{});
  handshake();
  EXPECT_EQ(send(s2c().rst().seq(5001U + 0x90000000U)), Verdict::accept(VerdictReason::kInvalid));
  EXPECT_EQ(state(), TcpState::kEstablished);
}

TEST_F(BypassTest, SynOnABypassedConnectionDoesNotMoveItsWindow) {
  handshake();
  ASSERT_TRUE(send(c2s().seq(1001).ack(5001)).bypass);
  const std::uint32_t end = conn()->ep[0].end;
  EXPECT_NE(send(c2s().syn().seq(424242)).reason, VerdictReason::kTracked);
  EXPECT_EQ(state(), TcpState::kEstablished);
  EXPECT_EQ(conn()->ep[0].end, end);
  EXPECT_TRUE((conn()->flags & kConnBypassed) != 0);
}

}  // namespace
}  // namespace synguard::engine
