#include "engine/protect/adaptive_mode.h"

namespace synguard::engine {

std::string_view toString(ServiceMode m) noexcept {
  switch (m) {
    case ServiceMode::kNormal:
      return "normal";
    case ServiceMode::kCookie:
      return "cookie";
  }
  return "unknown";
}

Result<AdaptiveMode> AdaptiveMode::create(ProtectionMode mode, const AdaptiveThresholds& t) {
  if (t.half_open_off >= t.half_open_on) {
    return Unexpected{Error{"half-open threshold: off must be below on"}};
  }
  if (!(t.syn_rate_off < t.syn_rate_on) || t.syn_rate_off < 0) {
    return Unexpected{Error{"SYN-rate threshold: off must be below on and not negative"}};
  }
  if (t.hold.count() < 0) {
    return Unexpected{Error{"hold time must not be negative"}};
  }
  return AdaptiveMode(mode, t);
}

Result<AdaptiveMode> AdaptiveMode::reconfigured(ProtectionMode mode,
                                                const AdaptiveThresholds& t) const {
  auto next = create(mode, t);
  if (next && mode == ProtectionMode::kAdaptive) {
    next->mode_ = mode_;
    next->calm_ = calm_;
    next->calm_since_ = calm_since_;
  }
  return next;
}

AdaptiveMode::AdaptiveMode(ProtectionMode mode, const AdaptiveThresholds& t) noexcept
    : protection_(mode),
      t_(t),
      mode_(mode == ProtectionMode::kAlways ? ServiceMode::kCookie : ServiceMode::kNormal) {}

std::optional<ModeChange> AdaptiveMode::update(std::uint32_t half_open, double syn_rate,
                                               MonotonicTime now) noexcept {
  switch (protection_) {
    case ProtectionMode::kOff:
    case ProtectionMode::kAlways:
      return std::nullopt;  // fixed modes never flip
    case ProtectionMode::kAdaptive:
      break;
  }
  switch (mode_) {
    case ServiceMode::kNormal:
      if (half_open >= t_.half_open_on || syn_rate >= t_.syn_rate_on) {
        mode_ = ServiceMode::kCookie;
        calm_ = false;
        return ModeChange{ServiceMode::kNormal, ServiceMode::kCookie, half_open, syn_rate, now};
      }
      return std::nullopt;
    case ServiceMode::kCookie: {
      const bool under = half_open < t_.half_open_off && syn_rate < t_.syn_rate_off;
      if (!under) {
        calm_ = false;  // any excursion restarts the hold
        return std::nullopt;
      }
      if (!calm_) {
        calm_ = true;
        calm_since_ = now;
      }
      if (now - calm_since_ >= t_.hold) {
        mode_ = ServiceMode::kNormal;
        calm_ = false;
        return ModeChange{ServiceMode::kCookie, ServiceMode::kNormal, half_open, syn_rate, now};
      }
      return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace synguard::engine
