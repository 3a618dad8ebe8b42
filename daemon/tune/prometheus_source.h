#pragma once
// A Prometheus server's history of synguard's own metrics, as the tuner's History: one sample
// per query step per service, through the HTTP query_range API (libcurl, nlohmann-json).
#include <string>
#include <vector>

#include "daemon/tune/series.h"

namespace synguard::tune {

struct PrometheusQuery {
  std::string url;                      ///< e.g. "http://127.0.0.1:9090" (no trailing /api/...)
  double since_seconds = 14 * 86400.0;  ///< how far back from `end`
  double end = 0;                       ///< Unix seconds; 0: now
  double step_seconds = 60;             ///< one sample per step
  double timeout_seconds = 30;          ///< per HTTP request
  std::vector<std::string> services;    ///< the config's service names to fetch
};

/// Fills `out` with one ServiceSeries per service of `q.services` that has data. Returns false
/// with a one-line reason in `error` when the server cannot be reached, answers with an error,
/// or has no series for any of the services (the caller exits 2).
bool loadPrometheusHistory(const PrometheusQuery& q, History& out, std::string& error);

/// "14d", "36h", "90m", "600s", "600" -> seconds; false on anything else.
bool parseDuration(const std::string& text, double& seconds);

}  // namespace synguard::tune
