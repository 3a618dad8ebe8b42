#pragma once

#include <chrono>
#include <cstdint>

#include "engine/clock.h"

namespace synguard::engine {

/// A token bucket for per-source SYN-rate limits: `rate` tokens a second up to
/// `burst`. Integer arithmetic in micro-tokens so refills never drift; 16 bytes of state.
class TokenBucket {
 public:
  constexpr TokenBucket() noexcept = default;

  /// Takes one token if there is one. `rate` per second, `burst` the bucket size (both >= 1).
  bool take(MonotonicTime now, std::uint32_t rate, std::uint32_t burst) noexcept {
    constexpr std::int64_t kMicro = 1'000'000;
    const std::int64_t cap = std::int64_t{burst} * kMicro;
    if (!started_) {
      started_ = true;
      tokens_ = cap;
      last_us_ = toUs(now);
    }
    const std::int64_t now_us = toUs(now);
    const std::int64_t elapsed = now_us - last_us_;
    if (elapsed > 0) {
      // rate tokens per second = rate micro-tokens per microsecond.
      const std::int64_t r = rate == 0 ? 1 : std::int64_t{rate};
      const std::int64_t add = elapsed >= cap / r ? cap : elapsed * r;  // no overflow
      tokens_ = tokens_ + add > cap ? cap : tokens_ + add;
      last_us_ = now_us;
    }
    if (tokens_ >= kMicro) {
      tokens_ -= kMicro;
      return true;
    }
    return false;
  }

 private:
  static std::int64_t toUs(MonotonicTime t) noexcept {
    return std::chrono::duration_cast<std::chrono::microseconds>(t.since_epoch).count();
  }
  std::int64_t tokens_ = 0;
  std::int64_t last_us_ = 0;
  bool started_ = false;
};

}  // namespace synguard::engine
