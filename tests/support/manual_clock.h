#pragma once

#include <chrono>

#include "engine/clock.h"

namespace synguard::testing {

/// A clock tests move by hand: tests never sleep.
class ManualClock : public engine::Clock {
 public:
  engine::MonotonicTime now() const noexcept override { return now_; }
  void advance(std::chrono::nanoseconds d) noexcept { now_ = now_ + d; }
  void set(engine::MonotonicTime t) noexcept { now_ = t; }

 private:
  engine::MonotonicTime now_{};
};

}  // namespace synguard::testing
