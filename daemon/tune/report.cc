#include "daemon/tune/report.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

namespace synguard::tune {

namespace {

using Json = nlohmann::ordered_json;

Json percentilesJson(const Percentiles& p) {
  return Json{{"peak", p.peak}, {"p50", p.p50}, {"p95", p.p95}, {"p99", p.p99}, {"p999", p.p999}};
}

Json suggestionJson(const Suggestion& s) {
  return Json{{"half_open", {{"on", s.half_open_on}, {"off", s.half_open_off}}},
              {"syn_rate", {{"on", s.syn_rate_on}, {"off", s.syn_rate_off}}},
              {"hold_seconds", s.hold_seconds},
              {"per_source",
               {{"half_open", s.source_half_open},
                {"syn_rate", s.source_syn_rate},
                {"syn_burst", s.source_syn_burst}}}};
}

Json whatifJson(const WhatIf& w) {
  Json attacks = Json::array();
  for (const AttackResult& a : w.attacks) {
    attacks.push_back(
        {{"capture", a.capture},
         {"seconds_to_cookie", a.seconds_to_cookie ? Json(*a.seconds_to_cookie) : Json(nullptr)}});
  }
  return Json{
      {"normal", {{"mode_changes", w.mode_changes}, {"legit_syns_dropped", w.legit_syns_dropped}}},
      {"attacks", attacks}};
}

Json serviceJson(const ServiceReport& sr) {
  const ServiceAnalysis& a = sr.analysis;
  Json hours = Json::array();
  for (const HourStat& h : a.by_hour) {
    // An hour with no baseline window has no percentile: null, not 0.
    const Json ho = h.samples > 0 ? Json(h.half_open_p99) : Json(nullptr);
    const Json syn = h.samples > 0 ? Json(h.syn_rate_p99) : Json(nullptr);
    hours.push_back(
        {{"hour", h.hour}, {"samples", h.samples}, {"half_open_p99", ho}, {"syn_rate_p99", syn}});
  }
  Json sources = Json::array();
  for (const SourceLoad& l : a.sources) {
    sources.push_back({{"prefix", l.prefix},
                       {"peak_half_open", l.peak_half_open},
                       {"peak_syn_rate", l.peak_syn_rate}});
  }
  Json j{{"service", a.service},
         {"samples", a.samples},
         {"excluded", {{"cookie_mode", a.excluded_cookie}, {"incomplete", a.excluded_incomplete}}},
         {"baseline_samples", a.baseline},
         {"half_open", percentilesJson(a.half_open)},
         {"syn_rate", percentilesJson(a.syn_rate)},
         {"by_hour_of_week", hours},
         {"sources", sources},
         {"suggested", suggestionJson(a.suggested)}};
  if (sr.whatif) {
    j["whatif"] = whatifJson(*sr.whatif);
  }
  return j;
}

std::string fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

void printPercentiles(std::ostream& out, const char* name, const Percentiles& p) {
  out << "  " << name << ": peak " << fmt(p.peak) << ", p50 " << fmt(p.p50) << ", p95 "
      << fmt(p.p95) << ", p99 " << fmt(p.p99) << ", p99.9 " << fmt(p.p999) << "\n";
}

void printWhatIf(std::ostream& out, const WhatIf& w) {
  out << "  what-if (the captures replayed with the suggestion):\n"
      << "    normal traffic: " << w.mode_changes << " mode changes, " << w.legit_syns_dropped
      << " segments that would be dropped\n";
  for (const AttackResult& a : w.attacks) {
    out << "    attack " << a.capture << ": "
        << (a.seconds_to_cookie ? "cookie mode after " + fmt(*a.seconds_to_cookie) + " s"
                                : std::string("never reached cookie mode"))
        << "\n";
  }
}

void printService(std::ostream& out, const ServiceReport& sr) {
  const ServiceAnalysis& a = sr.analysis;
  const Suggestion& s = a.suggested;
  out << "\nservice " << a.service << "\n"
      << "  windows: " << a.samples << " covering " << fmt(a.span_seconds) << " s; excluded "
      << a.excluded_cookie << " in cookie mode, " << a.excluded_incomplete
      << " incomplete (>= " << fmt(kIncompleteSynFloor) << " SYNs, < "
      << fmt(kIncompleteFraction * 100) << "% completed); baseline " << a.baseline << "\n";
  printPercentiles(out, "half-open", a.half_open);
  printPercentiles(out, "SYN rate ", a.syn_rate);
  out << "  longest burst above p99: " << fmt(a.longest_burst_seconds) << " s\n";
  if (!a.by_hour.empty()) {
    const auto empty = std::count_if(a.by_hour.begin(), a.by_hour.end(),
                                     [](const HourStat& h) { return h.samples == 0; });
    out << "  by hour of week (UTC, 0 = Monday 00:00): " << a.by_hour.size() << " hours, " << empty
        << " with no baseline window, see tune-report.json\n";
  }
  for (const SourceLoad& l : a.sources) {
    out << "  source " << l.prefix << ": peak half-open " << fmt(l.peak_half_open)
        << ", peak SYN rate " << fmt(l.peak_syn_rate) << "\n";
  }
  out << "  suggested: half_open {on: " << s.half_open_on << ", off: " << s.half_open_off
      << "}, syn_rate {on: " << s.syn_rate_on << ", off: " << s.syn_rate_off << "}, hold "
      << s.hold_seconds << "s, per_source {half_open: " << s.source_half_open
      << ", syn_rate: " << s.source_syn_rate << ", syn_burst: " << s.source_syn_burst << "}\n";
  if (sr.whatif) {
    printWhatIf(out, *sr.whatif);
  }
}

}  // namespace

std::string toJson(const TuneReport& r) {
  Json services = Json::array();
  for (const ServiceReport& s : r.services) {
    services.push_back(serviceJson(s));
  }
  const Json j{{"origin", r.origin},
               {"sensitivity", std::string(toString(r.sensitivity))},
               {"services", services}};
  return j.dump(2) + "\n";
}

void printText(const TuneReport& r, std::ostream& out) {
  out << "synguard tune: " << r.origin << "; sensitivity " << toString(r.sensitivity) << "\n";
  for (const ServiceReport& s : r.services) {
    printService(out, s);
  }
}

std::string suggestedYaml(const TuneReport& r) {
  std::ostringstream o;
  o << "# synguard tune, sensitivity " << toString(r.sensitivity) << " (" << r.origin << ")\n"
    << "services:\n";
  for (const ServiceReport& sr : r.services) {
    const Suggestion& s = sr.analysis.suggested;
    o << "  - name: " << Json(sr.analysis.service).dump() << "\n"
      << "    half_open: {on: " << s.half_open_on << ", off: " << s.half_open_off << "}\n"
      << "    syn_rate: {on: " << s.syn_rate_on << ", off: " << s.syn_rate_off << "}\n"
      << "    hold: " << s.hold_seconds << "s\n";
    if (s.source_half_open != 0) {
      o << "    per_source: {half_open: " << s.source_half_open
        << ", syn_rate: " << s.source_syn_rate << ", syn_burst: " << s.source_syn_burst << "}\n";
    }
  }
  return o.str();
}

}  // namespace synguard::tune
