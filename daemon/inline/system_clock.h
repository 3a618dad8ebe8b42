#pragma once

#include <time.h>

#include "engine/clock.h"

namespace synguard::daemon {

/// The engine's clock on a live gateway: CLOCK_MONOTONIC for timeouts, CLOCK_REALTIME for what
/// gateways sharing a cookie key must agree on (cookie counters, key rotation).
class SystemClock : public engine::Clock {
 public:
  engine::MonotonicTime now() const noexcept override {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return engine::MonotonicTime{std::chrono::seconds(ts.tv_sec) +
                                 std::chrono::nanoseconds(ts.tv_nsec)};
  }
  std::chrono::nanoseconds wall() const noexcept override {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
  }
};

}  // namespace synguard::daemon
