// Placeholder until the Prometheus source (branch i17-prom) is merged: this file is replaced
// whole by that branch's prometheus_source.cc.
#include "daemon/tune/prometheus_source.h"

namespace synguard::tune {

bool loadPrometheusHistory(const PrometheusQuery& /*q*/, History& /*out*/, std::string& error) {
  error = "synguard tune: built without the Prometheus source";
  return false;
}

}  // namespace synguard::tune
