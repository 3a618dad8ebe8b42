#pragma once

#include <cstddef>

#include "engine/protect/adaptive_mode.h"
#include "engine/stats.h"
#include "engine/track/connection.h"

namespace synguard::engine {

/// Told about every connection that leaves the table, before its slot is reused.
class ConnectionObserver {
 public:
  virtual ~ConnectionObserver() = default;
  virtual void onConnectionEnd(const Connection& c, EndCause cause) noexcept = 0;
  /// A service changed mode (adaptive protection), with the numbers that caused it.
  virtual void onModeChange(std::size_t /*service*/, const ModeChange& /*change*/) noexcept {}
};

}  // namespace synguard::engine
