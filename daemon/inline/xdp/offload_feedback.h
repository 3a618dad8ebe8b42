#pragma once

#include <cstddef>
#include <vector>

#include "daemon/inline/xdp/xdp_abi.h"
#include "engine/engine.h"

namespace synguard::daemon::xdp {

/// What XDP answered and dropped per service, as deltas for Engine::noteOffloaded: the
/// program's per-service counters are monotonic totals (summed over CPUs), indexed by the
/// service's position in the configuration. A reload keeps the positions' totals: a service
/// at a position gets what XDP counted there since the last reading. A total below the last
/// one (the program was loaded again) counts from 0. Owned by one thread (worker 0's).
class OffloadFeedback {
 public:
  /// The increase of service `svc`'s counters since the last call for it (since 0 for the first:
  /// the daemon loaded the program, so its counters started with it).
  engine::OffloadedCounts delta(std::size_t svc, const sg_xdp_svc_stats& total);

 private:
  std::vector<sg_xdp_svc_stats> last_;
};

/// True if `c` has anything to add.
bool anything(const engine::OffloadedCounts& c) noexcept;

}  // namespace synguard::daemon::xdp
