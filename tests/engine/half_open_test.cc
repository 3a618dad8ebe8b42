#include "engine/track/half_open.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "tests/engine/engine_fixture.h"
#include "tests/support/invariants.h"

namespace synguard::engine {
namespace {

/// Recounts the table and compares with every counter the engine keeps incrementally.
::testing::AssertionResult countersMatchRecount(const Engine& e) {
  const std::string problem = testing::engineInvariantProblems(e);
  if (!problem.empty()) {
    return ::testing::AssertionFailure() << problem;
  }
  return ::testing::AssertionSuccess();
}

TEST_F(EngineTest, HalfOpenCountersNeverDriftUnderRandomTraffic) {
  EngineConfig cfg;
  cfg.table_capacity = 64;             // small: evictions and emergency mode happen all the time
  cfg.half_open.service_capacity = 8;  // small: entries are recycled and overflow is used
  cfg.half_open.source_capacity = 8;
  // Unassured entries may take only 3/4 of the table (assured_reserve): the fill emergency mode
  // reacts to must stay within their reach.
  cfg.emergency.enter_fill = 0.7;
  cfg.emergency.leave_fill = 0.5;
  start(cfg);
  std::mt19937_64 rng(20261124);
  const char* clients[] = {"192.0.2.1",    "192.0.2.2",  "192.0.2.200", "203.0.113.5",
                           "203.0.113.77", "198.18.0.1", "198.18.1.1",  "10.9.9.9"};
  const char* servers[] = {"198.51.100.1", "198.51.100.2", "198.51.100.3"};
  const std::uint16_t sports[] = {80, 443, 22};
  constexpr int kSteps = 1'000'000;
  std::uint64_t reasons_seen = 0;
  for (int step = 0; step < kSteps; ++step) {
    const char* cl = clients[rng() % 8];
    const char* sv = servers[rng() % 3];
    const auto cp = static_cast<std::uint16_t>(30000 + rng() % 6);
    const std::uint16_t sp = sports[rng() % 3];
    const FlowKey k{*IpAddress::parse(cl), *IpAddress::parse(sv), cp, sp};
    const auto f = eng().table().find(k);
    const Connection* c = f.idx == kNoIndex ? nullptr : &eng().table().at(f.idx);
    // Sequence numbers right most of the time (so handshakes and closes complete), random
    // otherwise (so every invalid path runs too).
    const bool right = rng() % 8 != 0;
    const auto cseq = static_cast<std::uint32_t>(right && c ? c->ep[f.reply ? 1 : 0].end : rng());
    const auto sseq = static_cast<std::uint32_t>(right && c ? c->ep[f.reply ? 0 : 1].end : rng());
    auto up = testing::PacketBuilder::ipv4(cl, sv).tcp(cp, sp);
    auto down = testing::PacketBuilder::ipv4(sv, cl).tcp(sp, cp);
    switch (rng() % 12) {
      case 0:
      case 1:
        (void)eng().process(up.syn().seq(static_cast<std::uint32_t>(rng())).build());
        break;
      case 2:
        (void)eng().process(down.syn().seq(sseq).ack(cseq).build());
        break;
      case 3:
        (void)eng().process(up.seq(cseq).ack(sseq).payload(rng() % 3 * 100).build());
        break;
      case 4:
        (void)eng().process(down.seq(sseq).ack(cseq).payload(rng() % 3 * 100).build());
        break;
      case 5:
        (void)eng().process(up.fin().seq(cseq).ack(sseq).build());
        break;
      case 6:
        (void)eng().process(down.fin().seq(sseq).ack(cseq).build());
        break;
      case 7:
        (void)eng().process(
            (rng() % 2 ? up.rst().seq(cseq) : down.rst().seq(sseq).ack(cseq)).build());
        break;
      case 8:
        (void)eng().process(up.syn().seq(cseq).ack(sseq).build());
        break;
      case 9:
        clock_.advance(std::chrono::milliseconds(rng() % 20000));
        eng().expire();
        break;
      case 10:
        clock_.advance(std::chrono::milliseconds(rng() % 200));
        break;
      default:
        (void)eng().process(down.rst().seq(sseq).ack(cseq).build());
        break;
    }
    ASSERT_TRUE(countersMatchRecount(eng())) << "after step " << step;
  }
  // The run must have exercised what it claims to.
  const auto& st = eng().stats();
  EXPECT_GT(st.connections_ended[static_cast<std::size_t>(EndCause::kEvicted)], 0U);
  EXPECT_GT(st.connections_ended[static_cast<std::size_t>(EndCause::kTimeout)], 0U);
  EXPECT_GT(st.connections_reopened, 0U);
  EXPECT_GT(st.handshakes_completed, 0U);
  EXPECT_GT(st.emergency_entered, 0U);
  EXPECT_GT(eng().halfOpen().services().recycled(), 0U);
  for (auto v : st.invalid) {
    reasons_seen += v > 0 ? 1 : 0;
  }
  EXPECT_GE(reasons_seen, 6U);
  eng().flush();
  EXPECT_EQ(eng().halfOpen().global(), 0U);
  EXPECT_TRUE(countersMatchRecount(eng()));
}

TEST(CounterTable, RecyclesIdleEntriesAndOverflowsWhenAllAreBusy) {
  CounterTable t(4, 1);  // slot 0 is the overflow entry: 3 usable
  const auto a = *IpAddress::parse("192.0.2.1");
  const auto b = *IpAddress::parse("192.0.2.2");
  const auto c = *IpAddress::parse("192.0.2.3");
  const auto d = *IpAddress::parse("192.0.2.4");
  const auto ia = t.findOrInsert(a, 1);
  const auto ib = t.findOrInsert(b, 1);
  const auto ic = t.findOrInsert(c, 1);
  EXPECT_NE(ia, CounterTable::kOverflow);
  t.addHalfOpen(ia);
  t.addHalfOpen(ib);
  // c is idle: d takes its slot.
  EXPECT_EQ(t.findOrInsert(d, 1), ic);
  EXPECT_EQ(t.recycled(), 1U);
  EXPECT_EQ(t.find(c, 1), kNoIndex);
  t.addHalfOpen(ic);
  // Everything busy: the overflow entry.
  EXPECT_EQ(t.findOrInsert(c, 1), CounterTable::kOverflow);
  EXPECT_EQ(t.overflowed(), 1U);
  t.removeHalfOpen(ia);
  EXPECT_EQ(t.findOrInsert(c, 1), ia);
}

TEST(RateMeter, SmoothsPerSecondCountsAndDecays) {
  RateMeter m;
  for (std::uint32_t ms = 0; ms < 10'000; ms += 10) {  // 100 events/s for 10 s
    m.add(ms);
  }
  EXPECT_NEAR(m.rate(10'000), 100.0, 6.0);
  EXPECT_DOUBLE_EQ(m.peak(), 100.0);
  EXPECT_LT(m.rate(30'000), 1.0);
  EXPECT_DOUBLE_EQ(m.rate(200'000), 0.0);
}

}  // namespace
}  // namespace synguard::engine
