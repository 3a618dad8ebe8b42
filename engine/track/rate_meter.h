#pragma once

#include <cstdint>

namespace synguard::engine {

/// A smoothed event rate (events per second), cheap per event: events are counted in 1-second
/// windows and each closed window folds into an exponentially weighted average (weight 1/4 per
/// second, a time constant of about 3.5 s). Idle windows decay the average. One compare and one
/// increment per event; the fold runs once a second at most.
class RateMeter {
 public:
  /// Records one event at `tick_ms` (engine ticks, wrapping milliseconds).
  void add(std::uint32_t tick_ms) noexcept {
    roll(tick_ms);
    ++count_;
  }
  /// Records `n` events at `tick_ms` (a batch counted elsewhere, e.g. by the XDP fast path).
  void add(std::uint32_t tick_ms, std::uint32_t n) noexcept {
    roll(tick_ms);
    count_ += n;
  }
  /// The smoothed rate after folding windows up to `tick_ms`.
  double rate(std::uint32_t tick_ms) noexcept {
    roll(tick_ms);
    return rate_;
  }
  /// The busiest 1-second window seen (events per second), the one still open included.
  double peak() const noexcept {
    return static_cast<double>(count_) > peak_ ? static_cast<double>(count_) : peak_;
  }
  /// Events in the window now open (a cheap "last second" figure).
  std::uint32_t currentWindowCount() const noexcept { return count_; }

 private:
  static constexpr std::uint32_t kWindowMs = 1000;
  static constexpr double kAlpha = 0.25;

  void roll(std::uint32_t tick_ms) noexcept {
    if (!started_) {
      started_ = true;
      window_start_ = tick_ms;
      return;
    }
    const std::int32_t elapsed = static_cast<std::int32_t>(tick_ms - window_start_);
    if (elapsed < static_cast<std::int32_t>(kWindowMs)) {
      return;
    }
    const auto windows = static_cast<std::uint32_t>(elapsed) / kWindowMs;
    if (static_cast<double>(count_) > peak_) {
      peak_ = static_cast<double>(count_);
    }
    rate_ = rate_ * (1.0 - kAlpha) + kAlpha * static_cast<double>(count_);
    // Windows with no events decay the average; after ~60 idle windows it is negligible.
    for (std::uint32_t i = 1; i < windows && i < 64; ++i) {
      rate_ *= (1.0 - kAlpha);
    }
    if (windows >= 64) {
      rate_ = 0;
    }
    count_ = 0;
    window_start_ += windows * kWindowMs;
  }

  double rate_ = 0;
  double peak_ = 0;
  std::uint32_t window_start_ = 0;
  std::uint32_t count_ = 0;
  bool started_ = false;
};

}  // namespace synguard::engine
