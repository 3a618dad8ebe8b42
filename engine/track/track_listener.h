#pragma once

#include "engine/stats.h"
#include "engine/track/connection.h"

namespace synguard::engine {

/// What the stage above the Tracker must hear about a connection it cannot see happen: its
/// entering or leaving the half-open count (per-service counts and modes follow it) and its
/// end (a proxied connection's entry is released; the ConnectionObserver is told). Called
/// only on those transitions, never for every packet.
class TrackListener {
 public:
  virtual ~TrackListener() = default;
  /// `c` was just counted half-open.
  virtual void onHalfOpenEntered(const Connection& c) noexcept = 0;
  /// `c` is no longer counted half-open (its flag is already cleared).
  virtual void onHalfOpenLeft(const Connection& c) noexcept = 0;
  /// `c` leaves the table, after the tracker's counters moved and before its slot is reused.
  virtual void onConnectionEnd(Connection& c, EndCause cause) noexcept = 0;
};

}  // namespace synguard::engine
