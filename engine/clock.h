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
  /// Wall-clock time since the Unix epoch, for what gateways sharing a cookie key must agree
  /// on (the cookie's time counter, key rotation, the cookie timestamp clock). Read only when a
  /// cookie is made or checked. Defaults to now() (replay: capture time is wall time).
  virtual std::chrono::nanoseconds wall() const noexcept { return now().since_epoch; }
};

}  // namespace synguard::engine
