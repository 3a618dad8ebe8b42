#pragma once
// The parts of the Prometheus source that need no server, apart so that unit tests reach them:
// the query_range chunks, the request URL, an answer's JSON as points per service, and the
// merge of the four queries into samples. The HTTP requests are in prometheus_source.cc.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "daemon/tune/series.h"

namespace synguard::tune::prometheus {

/// Prometheus refuses a query_range that would return more than 11,000 points per series
/// (web/api/v1/api.go: "exceeded maximum resolution of 11,000 points per timeseries").
inline constexpr std::int64_t kMaxPointsPerQuery = 11000;

/// One query_range request: evaluation times start_ms, start_ms + step, ..., end_ms (inclusive).
struct Chunk {
  std::int64_t start_ms = 0;
  std::int64_t end_ms = 0;
};

/// The evaluation times start_ms, start_ms + step_ms, ... <= end_ms as chunks of at most
/// `max_points` points each, in time order, no time in two chunks. Empty when end < start or
/// step <= 0.
std::vector<Chunk> splitRange(std::int64_t start_ms, std::int64_t end_ms, std::int64_t step_ms,
                              std::int64_t max_points = kMaxPointsPerQuery);

/// BASE/api/v1/query_range?query=...&start=...&end=...&step=... with the query URL-encoded.
std::string rangeUrl(const std::string& base, const std::string& query, const Chunk& chunk,
                     std::int64_t step_ms);

/// One query's points: service -> (evaluation time in ms -> value). NaN and infinities are left
/// out (a point Prometheus could not compute is a missing point).
using Points = std::map<std::string, std::map<std::int64_t, double>>;

/// Adds the points of a query_range answer (a "matrix" of series labelled `service`) to `points`.
/// False with the reason in `error`: Prometheus's "status":"error" (its errorType and error), or
/// what is malformed.
bool parseMatrix(const std::string& body, Points& points, std::string& error);

/// The four queries of the contract (docs/TUNING.md), for one step.
struct Queries {
  std::string half_open;
  std::string syn_rate;
  std::string completed_rate;
  std::string cookie_mode;
};
Queries queriesFor(std::int64_t step_ms);

/// What the four queries returned.
struct QueryPoints {
  Points half_open;
  Points syn_rate;
  Points completed_rate;
  Points cookie_mode;
};

/// One ServiceSeries per name of `services` (in that order) that has points. A sample is made at
/// every evaluation time T where both half_open and syn_rate have a point: the window (T - step,
/// T], syns = syn_rate * step, completed = completed_rate * step (-1 where that series has no
/// point), cookie_mode when the cookie gauge is 1 (>= 0.5) at T.
std::vector<ServiceSeries> mergeSamples(const QueryPoints& points,
                                        const std::vector<std::string>& services,
                                        std::int64_t step_ms);

/// "14d", "36h", "90m", "45s" for a whole number of the unit, else seconds with decimals.
std::string formatSeconds(double seconds);

}  // namespace synguard::tune::prometheus
