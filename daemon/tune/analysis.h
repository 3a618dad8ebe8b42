#pragma once
// The tuner's analysis, pure: which windows are the baseline (the contamination filter), the
// statistics behind the suggestion, and the suggestion per sensitivity (docs/TUNING.md).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/tune/series.h"

namespace synguard::tune {

enum class Sensitivity { kLow, kMedium, kHigh };
bool parseSensitivity(std::string_view text, Sensitivity& out);
std::string_view toString(Sensitivity s);

/// A window is "incomplete" when it had at least kIncompleteSynFloor SYNs and fewer than
/// kIncompleteFraction of them completed their handshake (a flood the thresholds missed).
constexpr double kIncompleteSynFloor = 20;
constexpr double kIncompleteFraction = 0.5;

enum class Exclusion { kNone, kCookieMode, kIncomplete };
Exclusion classify(const Sample& s);

/// How far above what the traffic did each sensitivity puts the thresholds.
struct Margins {
  double p999;              ///< on >= p999 * this
  double peak;              ///< on >= peak * this
  double half_open_floor;   ///< on >= this (half-open connections)
  double syn_rate_floor;    ///< on >= this (SYNs a second)
  double off_fraction;      ///< off = on * this
  double hold_factor;       ///< hold >= longest burst * this
  double hold_min_seconds;  ///< hold >= this
  double source_margin;     ///< per-source limits = per-source peak * this
  double source_half_open_floor;
  double source_syn_rate_floor;
  double burst_multiple;  ///< syn_burst = per-source syn_rate * this
};
const Margins& marginsFor(Sensitivity s);
constexpr double kHoldMaxSeconds = 600;

struct Percentiles {
  double peak = 0;
  double p50 = 0;
  double p95 = 0;
  double p99 = 0;
  double p999 = 0;
};
/// Nearest-rank percentiles; all 0 for no values.
Percentiles percentiles(std::vector<double> values);

struct HourStat {
  int hour = 0;             ///< 0 = Monday 00:00-01:00 UTC .. 167 = Sunday 23:00-24:00 UTC
  std::size_t samples = 0;  ///< baseline windows in this hour; 0: none (all left out, or no data)
  double half_open_p99 = 0;
  double syn_rate_p99 = 0;
};
/// Hour of the week of Unix time `t` (0 = Monday 00:00 UTC).
int hourOfWeek(double t);

struct Suggestion {
  std::uint32_t half_open_on = 0;
  std::uint32_t half_open_off = 0;
  std::uint32_t syn_rate_on = 0;
  std::uint32_t syn_rate_off = 0;
  std::uint32_t hold_seconds = 0;
  std::uint32_t source_half_open = 0;  ///< 0: no per-source data, no limit suggested
  std::uint32_t source_syn_rate = 0;
  std::uint32_t source_syn_burst = 0;
};

struct ServiceAnalysis {
  std::string service;
  std::size_t samples = 0;
  std::size_t excluded_cookie = 0;
  std::size_t excluded_incomplete = 0;
  std::size_t baseline = 0;
  double span_seconds = 0;           ///< the windows' widths summed (what the history covers)
  double longest_burst_seconds = 0;  ///< longest run of baseline windows above their p99
  Percentiles half_open;
  Percentiles syn_rate;
  std::vector<HourStat> by_hour;    ///< all 168 hours; empty when the history spans < 7 days
  std::vector<SourceLoad> sources;  ///< top 10 by peak half-open, then peak SYN rate
  Suggestion suggested;
};

ServiceAnalysis analyze(const ServiceSeries& series, Sensitivity sensitivity);

}  // namespace synguard::tune
