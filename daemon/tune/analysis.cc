#include "daemon/tune/analysis.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace synguard::tune {

namespace {

// low: fewest false alarms; high: earliest reaction. The floors keep a quiet service from
// getting thresholds a handful of clients could reach.
constexpr Margins kLow{3.0, 2.0, 128, 500, 0.5, 3.0, 60, 3.0, 32, 50, 5.0};
constexpr Margins kMedium{2.0, 1.5, 64, 200, 0.5, 2.0, 30, 2.0, 16, 20, 4.0};
constexpr Margins kHigh{1.5, 1.2, 32, 100, 0.5, 1.5, 10, 1.5, 8, 10, 3.0};

constexpr std::size_t kTopSources = 10;
constexpr double kWeekSeconds = 7 * 86400.0;

std::uint32_t ceilCount(double v) {
  return static_cast<std::uint32_t>(std::min(std::ceil(v), 4.0e9));
}

/// on = max(p999 * margin, peak * margin, floor); off = on * fraction, at least 1, below on.
void onOff(const Percentiles& p, const Margins& m, double floor, std::uint32_t& on,
           std::uint32_t& off) {
  on = ceilCount(std::max({p.p999 * m.p999, p.peak * m.peak, floor}));
  off = std::max<std::uint32_t>(1, ceilCount(on * m.off_fraction));
  if (off >= on) {
    off = on - 1;
  }
}

/// The longest run of consecutive baseline windows in which half-open or the SYN rate was
/// above its p99, in seconds.
double longestBurst(const std::vector<const Sample*>& base, const Percentiles& ho,
                    const Percentiles& sr) {
  double longest = 0;
  double run = 0;
  double run_end = 0;
  for (const Sample* s : base) {
    const bool above = s->half_open > ho.p99 || s->syn_rate > sr.p99;
    if (!above) {
      run = 0;
      continue;
    }
    const bool contiguous = run > 0 && s->t <= run_end + s->width * 0.5;
    run = contiguous ? run + s->width : s->width;
    run_end = s->t + s->width;
    longest = std::max(longest, run);
  }
  return longest;
}

std::vector<HourStat> byHour(const std::vector<const Sample*>& base) {
  // Every hour of the week is reported, even one whose windows were all left out (an attack
  // that filled it): its row says so (samples 0) instead of disappearing.
  constexpr int kHoursPerWeek = 168;
  std::vector<std::pair<std::vector<double>, std::vector<double>>> hours(kHoursPerWeek);
  for (const Sample* s : base) {
    auto& h = hours[static_cast<std::size_t>(hourOfWeek(s->t))];
    h.first.push_back(s->half_open);
    h.second.push_back(s->syn_rate);
  }
  std::vector<HourStat> out;
  out.reserve(kHoursPerWeek);
  for (int hour = 0; hour < kHoursPerWeek; ++hour) {
    auto& v = hours[static_cast<std::size_t>(hour)];
    const std::size_t n = v.first.size();
    out.push_back(
        {hour, n, percentiles(std::move(v.first)).p99, percentiles(std::move(v.second)).p99});
  }
  return out;
}

std::vector<SourceLoad> topSources(std::vector<SourceLoad> sources) {
  std::sort(sources.begin(), sources.end(), [](const SourceLoad& a, const SourceLoad& b) {
    if (a.peak_half_open != b.peak_half_open) {
      return a.peak_half_open > b.peak_half_open;
    }
    if (a.peak_syn_rate != b.peak_syn_rate) {
      return a.peak_syn_rate > b.peak_syn_rate;
    }
    return a.prefix < b.prefix;
  });
  if (sources.size() > kTopSources) {
    sources.resize(kTopSources);
  }
  return sources;
}

void suggestSources(const std::vector<SourceLoad>& sources, const Margins& m, Suggestion& s) {
  if (sources.empty()) {
    return;  // no per-source data (Prometheus): no limit suggested
  }
  double ho = 0;
  double sr = 0;
  for (const SourceLoad& l : sources) {
    ho = std::max(ho, l.peak_half_open);
    sr = std::max(sr, l.peak_syn_rate);
  }
  s.source_half_open = ceilCount(std::max(ho * m.source_margin, m.source_half_open_floor));
  s.source_syn_rate = ceilCount(std::max(sr * m.source_margin, m.source_syn_rate_floor));
  s.source_syn_burst = ceilCount(s.source_syn_rate * m.burst_multiple);
}

}  // namespace

bool parseSensitivity(std::string_view text, Sensitivity& out) {
  if (text == "low") {
    out = Sensitivity::kLow;
  } else if (text == "medium") {
    out = Sensitivity::kMedium;
  } else if (text == "high") {
    out = Sensitivity::kHigh;
  } else {
    return false;
  }
  return true;
}

std::string_view toString(Sensitivity s) {
  switch (s) {
    case Sensitivity::kLow:
      return "low";
    case Sensitivity::kMedium:
      return "medium";
    case Sensitivity::kHigh:
      return "high";
  }
  return "medium";
}

const Margins& marginsFor(Sensitivity s) {
  switch (s) {
    case Sensitivity::kLow:
      return kLow;
    case Sensitivity::kHigh:
      return kHigh;
    case Sensitivity::kMedium:
      break;
  }
  return kMedium;
}

Exclusion classify(const Sample& s) {
  if (s.cookie_mode) {
    return Exclusion::kCookieMode;
  }
  if (s.completed >= 0 && s.syns >= kIncompleteSynFloor &&
      s.completed < s.syns * kIncompleteFraction) {
    return Exclusion::kIncomplete;
  }
  return Exclusion::kNone;
}

Percentiles percentiles(std::vector<double> values) {
  Percentiles p;
  if (values.empty()) {
    return p;
  }
  std::sort(values.begin(), values.end());
  const auto rank = [&values](double q) {
    const auto n = static_cast<double>(values.size());
    const auto r = static_cast<std::size_t>(std::ceil(q * n));
    return values[std::clamp<std::size_t>(r, 1, values.size()) - 1];
  };
  p.peak = values.back();
  p.p50 = rank(0.50);
  p.p95 = rank(0.95);
  p.p99 = rank(0.99);
  p.p999 = rank(0.999);
  return p;
}

int hourOfWeek(double t) {
  // 1970-01-01 was a Thursday: Monday 00:00 is 72 hours before it.
  const auto hours = static_cast<long long>(std::floor(t / 3600.0)) + 72;
  return static_cast<int>(((hours % 168) + 168) % 168);
}

ServiceAnalysis analyze(const ServiceSeries& series, Sensitivity sensitivity) {
  ServiceAnalysis a;
  a.service = series.service;
  a.samples = series.samples.size();
  std::vector<const Sample*> base;
  std::vector<double> ho;
  std::vector<double> sr;
  for (const Sample& s : series.samples) {
    const Exclusion e = classify(s);
    if (e == Exclusion::kCookieMode) {
      ++a.excluded_cookie;
    } else if (e == Exclusion::kIncomplete) {
      ++a.excluded_incomplete;
    } else {
      base.push_back(&s);
      ho.push_back(s.half_open);
      sr.push_back(s.syn_rate);
    }
  }
  a.baseline = base.size();
  for (const Sample& s : series.samples) {
    a.span_seconds += s.width;
  }
  a.half_open = percentiles(std::move(ho));
  a.syn_rate = percentiles(std::move(sr));
  a.longest_burst_seconds = longestBurst(base, a.half_open, a.syn_rate);
  if (a.span_seconds >= kWeekSeconds) {
    a.by_hour = byHour(base);
  }
  a.sources = topSources(series.sources);

  const Margins& m = marginsFor(sensitivity);
  Suggestion& s = a.suggested;
  onOff(a.half_open, m, m.half_open_floor, s.half_open_on, s.half_open_off);
  onOff(a.syn_rate, m, m.syn_rate_floor, s.syn_rate_on, s.syn_rate_off);
  s.hold_seconds = ceilCount(
      std::clamp(a.longest_burst_seconds * m.hold_factor, m.hold_min_seconds, kHoldMaxSeconds));
  suggestSources(series.sources, m, s);
  return a;
}

}  // namespace synguard::tune
