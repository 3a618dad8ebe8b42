#pragma once
// synguard tune: thresholds per service from what the traffic really did (docs/TUNING.md).
#include <ostream>
#include <string>
#include <vector>

#include "daemon/tune/analysis.h"

namespace synguard::tune {

struct TuneOptions {
  std::string config_path;
  Sensitivity sensitivity = Sensitivity::kMedium;
  std::vector<std::string> captures;  ///< normal traffic
  std::vector<std::string> attacks;   ///< --attack: must still trigger cookie mode
  std::string out_dir = ".";
  std::string prometheus_url;  ///< empty: no Prometheus source
  double since_seconds = 14 * 86400.0;
  double step_seconds = 60;
};

/// Runs the tuner: the report on `out` and in the files of docs/TUNING.md under out_dir.
/// Returns 0, or 2 after one line "synguard tune: ..." on `err`.
int runTune(const TuneOptions& opts, std::ostream& out, std::ostream& err);

}  // namespace synguard::tune
