#pragma once
// The tuner's report: the human text and tune-report.json (schema in docs/TUNING.md).
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "daemon/tune/analysis.h"

namespace synguard::tune {

struct AttackResult {
  std::string capture;
  std::optional<double> seconds_to_cookie;  ///< nullopt: never switched
};

/// The suggestion replayed: the normal captures and each attack capture.
struct WhatIf {
  std::uint64_t mode_changes = 0;
  std::uint64_t legit_syns_dropped = 0;  ///< segments of the normal captures that would drop
  std::vector<AttackResult> attacks;
};

struct ServiceReport {
  ServiceAnalysis analysis;
  std::optional<WhatIf> whatif;  ///< only when captures were given
};

struct TuneReport {
  std::string origin;
  Sensitivity sensitivity = Sensitivity::kMedium;
  std::vector<ServiceReport> services;
};

std::string toJson(const TuneReport& r);
void printText(const TuneReport& r, std::ostream& out);
/// suggested.yaml: per service, the suggested values as the configuration writes them.
std::string suggestedYaml(const TuneReport& r);

}  // namespace synguard::tune
