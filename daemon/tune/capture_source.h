#pragma once
// Captures as the tuner's history: each capture through the replay engine (every service in
// monitor mode), sampled once a second per service, plus per-source-prefix peaks taken over
// the windows the contamination filter keeps (a flood's sources must not set the limits).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "daemon/tune/series.h"
#include "engine/engine.h"

namespace synguard::tune {

/// What one replay of one capture showed, per service of the configuration (same order).
struct CaptureRun {
  std::string capture;
  std::vector<ServiceSeries> services;  ///< every configured service, samples may be empty
  std::vector<std::uint64_t> syns;      ///< SYNs to each service
  std::vector<std::uint64_t> mode_changes;
  std::vector<std::uint64_t> would_drop;  ///< segments that would have been dropped
  /// Seconds from the capture's first packet to the service's first switch to cookie mode.
  std::vector<std::optional<double>> seconds_to_cookie;
  double first_ts = 0;
  double last_ts = 0;
};

/// Replays `capture` with `cfg` (its services in monitor mode). False with a one-line reason
/// (without the "synguard tune: " prefix) when the file cannot be read as a capture.
bool replayCapture(const std::string& capture, const engine::EngineConfig& cfg, CaptureRun& out,
                   std::string& error);

/// True when the run saw at least one SYN to a configured service.
bool hasServiceTraffic(const CaptureRun& run);

/// Appends the runs' samples and sources to `history`, merged per service (services with no
/// SYN in any run are left out).
void mergeRuns(const std::vector<CaptureRun>& runs, History& history);

}  // namespace synguard::tune
