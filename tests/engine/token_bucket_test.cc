#include "engine/protect/token_bucket.h"

#include <gtest/gtest.h>

namespace synguard::engine {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

TEST(TokenBucket, AllowsTheBurstThenTheRate) {
  TokenBucket b;
  MonotonicTime t{std::chrono::seconds(100)};
  int ok = 0;
  for (int i = 0; i < 50; ++i) {
    ok += b.take(t, 10, 20) ? 1 : 0;
  }
  EXPECT_EQ(ok, 20);  // the burst
  // Then 10 per second: over 10 s of one attempt per millisecond, 100 more pass.
  ok = 0;
  for (int i = 0; i < 10'000; ++i) {
    t = t + milliseconds(1);
    ok += b.take(t, 10, 20) ? 1 : 0;
  }
  EXPECT_EQ(ok, 100);
}

TEST(TokenBucket, RefillsToTheBurstOnlyAndIgnoresTimeGoingBack) {
  TokenBucket b;
  MonotonicTime t{std::chrono::seconds(5)};
  while (b.take(t, 1000, 5)) {
  }
  t = t + std::chrono::hours(1);  // a long idle time refills to the burst, not beyond
  int ok = 0;
  for (int i = 0; i < 10; ++i) {
    ok += b.take(t, 1000, 5) ? 1 : 0;
  }
  EXPECT_EQ(ok, 5);
  EXPECT_FALSE(b.take(MonotonicTime{std::chrono::seconds(1)}, 1000, 5));  // clock stepped back
  EXPECT_TRUE(b.take(t + microseconds(1000), 1000, 5));
}

}  // namespace
}  // namespace synguard::engine
