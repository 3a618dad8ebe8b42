#pragma once
// The picture of one service: half-open and SYN rate over time (two panels), the suggested
// on/off thresholds as dashed lines, as a self-contained SVG document.
#include <string>

#include "daemon/tune/analysis.h"
#include "daemon/tune/series.h"

namespace synguard::tune {

std::string renderSvg(const ServiceSeries& series, const ServiceAnalysis& analysis);

}  // namespace synguard::tune
