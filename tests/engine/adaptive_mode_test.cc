#include "engine/protect/adaptive_mode.h"

#include <gtest/gtest.h>

namespace synguard::engine {
namespace {

using std::chrono::seconds;

MonotonicTime at(int s) { return MonotonicTime{seconds(s)}; }

AdaptiveMode adaptive(AdaptiveThresholds t = {}) {
  auto m = AdaptiveMode::create(ProtectionMode::kAdaptive, t);
  EXPECT_TRUE(m.has_value());
  return std::move(m).value();
}

TEST(AdaptiveMode, EntersOnEitherThresholdWithTheNumbersThatCausedIt) {
  auto m = adaptive();
  EXPECT_FALSE(m.update(999, 4999, at(0)));
  const auto by_half_open = m.update(1000, 10, at(1));
  ASSERT_TRUE(by_half_open);
  EXPECT_EQ(by_half_open->to, ServiceMode::kCookie);
  EXPECT_EQ(by_half_open->half_open, 1000U);
  auto r = adaptive();
  const auto by_rate = r.update(3, 5000, at(1));
  ASSERT_TRUE(by_rate);
  EXPECT_DOUBLE_EQ(by_rate->syn_rate, 5000);
  EXPECT_EQ(r.mode(), ServiceMode::kCookie);
}

TEST(AdaptiveMode, LeavesOnlyAfterHoldingUnderBothOffValues) {
  auto m = adaptive();
  ASSERT_TRUE(m.update(2000, 0, at(0)));
  // Between off and on: stays in cookie mode, however long (no flapping).
  for (int s = 1; s < 200; ++s) {
    EXPECT_FALSE(m.update(700, 3000, at(s)));
  }
  EXPECT_EQ(m.mode(), ServiceMode::kCookie);
  // Under both off values from t=200; a blip at t=220 restarts the 30 s hold.
  EXPECT_FALSE(m.update(10, 10, at(200)));
  EXPECT_FALSE(m.update(10, 10, at(219)));
  EXPECT_FALSE(m.update(10, 2500, at(220)));
  EXPECT_FALSE(m.update(10, 10, at(221)));
  EXPECT_FALSE(m.update(10, 10, at(250)));
  const auto back = m.update(10, 10, at(251));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->to, ServiceMode::kNormal);
  EXPECT_EQ(m.mode(), ServiceMode::kNormal);
}

TEST(AdaptiveMode, OscillatingAroundOneThresholdDoesNotFlap) {
  auto m = adaptive();
  int changes = 0;
  for (int s = 0; s < 600; ++s) {
    const std::uint32_t h = (s % 2 == 0) ? 1100 : 600;  // crosses "on", never under "off"
    changes += m.update(h, 0, at(s)) ? 1 : 0;
  }
  EXPECT_EQ(changes, 1);
}

TEST(AdaptiveMode, FixedModesNeverFlip) {
  auto off = AdaptiveMode::create(ProtectionMode::kOff, {});
  auto always = AdaptiveMode::create(ProtectionMode::kAlways, {});
  ASSERT_TRUE(off && always);
  EXPECT_FALSE(off->update(1'000'000, 1e9, at(0)));
  EXPECT_EQ(off->mode(), ServiceMode::kNormal);
  EXPECT_FALSE(always->update(0, 0, at(1000)));
  EXPECT_EQ(always->mode(), ServiceMode::kCookie);
}

TEST(AdaptiveMode, RejectsOffNotBelowOn) {
  AdaptiveThresholds t;
  t.half_open_off = t.half_open_on;
  EXPECT_FALSE(AdaptiveMode::create(ProtectionMode::kAdaptive, t).has_value());
  t = {};
  t.syn_rate_off = 6000;
  EXPECT_FALSE(AdaptiveMode::create(ProtectionMode::kAdaptive, t).has_value());
}

}  // namespace
}  // namespace synguard::engine
