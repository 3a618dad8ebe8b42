#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "engine/clock.h"
#include "engine/result.h"

namespace synguard::engine {

/// How a service is protected: kOff tracks only, kAdaptive switches to SYN cookies
/// under a flood, kAlways answers every SYN with a cookie.
enum class ProtectionMode : std::uint8_t { kOff, kAdaptive, kAlways };
/// What a service is doing now.
enum class ServiceMode : std::uint8_t { kNormal, kCookie };
std::string_view toString(ServiceMode m) noexcept;

/// Hysteresis thresholds: enter cookie mode when the half-open count or the SYN rate reaches its
/// "on" value; leave only after both have stayed below their "off" values for `hold`.
struct AdaptiveThresholds {
  std::uint32_t half_open_on = 1000;
  std::uint32_t half_open_off = 500;
  double syn_rate_on = 5000;
  double syn_rate_off = 2000;
  std::chrono::milliseconds hold{std::chrono::seconds(30)};
};

/// A mode transition, with the numbers that caused it (for the log and the metrics).
struct ModeChange {
  ServiceMode from;
  ServiceMode to;
  std::uint32_t half_open;
  double syn_rate;
  MonotonicTime at;
};

/// The per-service mode machine. Pure: fed the service's current figures, it says when to flip.
class AdaptiveMode {
 public:
  static Result<AdaptiveMode> create(ProtectionMode mode, const AdaptiveThresholds& t);

  /// Feeds the current half-open count and SYN rate; returns the transition, if one happens.
  std::optional<ModeChange> update(std::uint32_t half_open, double syn_rate,
                                   MonotonicTime now) noexcept;
  ServiceMode mode() const noexcept { return mode_; }
  /// The same machine under new settings (a configuration reload): an adaptive service keeps
  /// its current mode and hold; `off` and `always` take their fixed mode.
  Result<AdaptiveMode> reconfigured(ProtectionMode mode, const AdaptiveThresholds& t) const;

 private:
  AdaptiveMode(ProtectionMode mode, const AdaptiveThresholds& t) noexcept;

  ProtectionMode protection_;
  AdaptiveThresholds t_;
  ServiceMode mode_;
  bool calm_ = false;           ///< in cookie mode and under both "off" values
  MonotonicTime calm_since_{};  ///< since when
};

}  // namespace synguard::engine
