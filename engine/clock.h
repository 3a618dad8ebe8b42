#pragma once

#include <chrono>
#include <cstdint>

namespace synguard::engine {

/// Engine time: nanoseconds on a monotonic scale. The daemon feeds CLOCK_MONOTONIC; replay feeds
/// the capture's own timestamps (so their epoch is the Unix epoch); tests feed a ManualClock.
struct MonotonicTime {
  std::chrono::nanoseconds since_epoch{0};

  constexpr auto operator<=>(const MonotonicTime&) const noexcept = default;
  constexpr MonotonicTime operator+(std::chrono::nanoseconds d) const noexcept {
    return MonotonicTime{since_epoch + d};
  }
  constexpr std::chrono::nanoseconds operator-(MonotonicTime o) const noexcept {
    return since_epoch - o.since_epoch;
  }
};

/// The clock the engine reads once per call.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual MonotonicTime now() const noexcept = 0;
};

}  // namespace synguard::engine
