#include "daemon/tune/tune.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "config/loader.h"
#include "daemon/tune/capture_source.h"
#include "daemon/tune/config_edit.h"
#include "daemon/tune/prometheus_source.h"
#include "daemon/tune/report.h"
#include "daemon/tune/svg.h"

namespace synguard::tune {

namespace {

constexpr std::string_view kPrefix = "synguard tune: ";

/// A failure: its one line, prefixed once.
struct Failure {
  std::string message;
};

std::string prefixed(const std::string& reason) {
  return reason.starts_with(kPrefix) ? reason : std::string(kPrefix) + reason;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) {
    s += (s.empty() ? "" : ", ") + x;
  }
  return s;
}

std::vector<CaptureRun> replayAll(const std::vector<std::string>& captures,
                                  const engine::EngineConfig& cfg, bool need_traffic) {
  std::vector<CaptureRun> runs;
  for (const std::string& path : captures) {
    CaptureRun run;
    std::string error;
    if (!replayCapture(path, cfg, run, error)) {
      throw Failure{prefixed(error)};
    }
    if (need_traffic && !hasServiceTraffic(run)) {
      throw Failure{prefixed(path + ": no traffic to any configured service")};
    }
    runs.push_back(std::move(run));
  }
  return runs;
}

/// Returns where the history came from, with the requests, points and time the queries took.
std::string addPrometheus(const TuneOptions& opts, const engine::EngineConfig& cfg,
                          History& history) {
  PrometheusQuery q;
  q.url = opts.prometheus_url;
  q.since_seconds = opts.since_seconds;
  q.step_seconds = opts.step_seconds;
  for (const engine::ServiceConfig& s : cfg.protection.services) {
    q.services.push_back(s.name);
  }
  History from;
  std::string error;
  if (!loadPrometheusHistory(q, from, error)) {
    throw Failure{prefixed(error)};
  }
  for (ServiceSeries& s : from.services) {
    auto it = std::find_if(history.services.begin(), history.services.end(),
                           [&s](const ServiceSeries& h) { return h.service == s.service; });
    if (it == history.services.end()) {
      history.services.push_back(std::move(s));
      continue;
    }
    it->samples.insert(it->samples.end(), s.samples.begin(), s.samples.end());
    std::stable_sort(it->samples.begin(), it->samples.end(),
                     [](const Sample& a, const Sample& b) { return a.t < b.t; });
  }
  return from.origin;
}

/// The configuration with each analysed service's thresholds replaced by the suggestion.
engine::EngineConfig withSuggestion(engine::EngineConfig cfg,
                                    const std::vector<ServiceReport>& services) {
  for (engine::ServiceConfig& sc : cfg.protection.services) {
    for (const ServiceReport& r : services) {
      if (r.analysis.service != sc.name) {
        continue;
      }
      const Suggestion& s = r.analysis.suggested;
      sc.thresholds.half_open_on = s.half_open_on;
      sc.thresholds.half_open_off = s.half_open_off;
      sc.thresholds.syn_rate_on = s.syn_rate_on;
      sc.thresholds.syn_rate_off = s.syn_rate_off;
      sc.thresholds.hold = std::chrono::seconds(s.hold_seconds);
      if (s.source_half_open != 0) {
        sc.per_source = {s.source_half_open, s.source_syn_rate, s.source_syn_burst};
      }
    }
  }
  return cfg;
}

void whatIf(const TuneOptions& opts, const engine::EngineConfig& base, TuneReport& report) {
  const engine::EngineConfig cfg = withSuggestion(base, report.services);
  const std::vector<CaptureRun> normal = replayAll(opts.captures, cfg, false);
  const std::vector<CaptureRun> attacks = replayAll(opts.attacks, cfg, false);
  for (ServiceReport& sr : report.services) {
    WhatIf w;
    const auto index = [&sr](const CaptureRun& run) {
      for (std::size_t i = 0; i < run.services.size(); ++i) {
        if (run.services[i].service == sr.analysis.service) {
          return i;
        }
      }
      return run.services.size();
    };
    for (const CaptureRun& run : normal) {
      if (const std::size_t i = index(run); i < run.services.size()) {
        w.mode_changes += run.mode_changes[i];
        w.legit_syns_dropped += run.would_drop[i];
      }
    }
    for (const CaptureRun& run : attacks) {
      const std::size_t i = index(run);
      w.attacks.push_back(
          {run.capture, i < run.services.size() ? run.seconds_to_cookie[i] : std::nullopt});
    }
    sr.whatif = w;
  }
}

void writeFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream f(path, std::ios::out | std::ios::trunc | std::ios::binary);
  f << text;
  f.flush();
  if (!f) {
    throw Failure{prefixed("cannot write " + path.string())};
  }
}

std::string readFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

/// The diff's file name: the configuration's path as given, without a leading "./" or "/".
std::string diffName(std::string path) {
  while (path.starts_with("./")) {
    path.erase(0, 2);
  }
  while (path.starts_with("/")) {
    path.erase(0, 1);
  }
  return path;
}

void writeOutputs(const TuneOptions& opts, const History& history, const TuneReport& report,
                  std::ostream& out) {
  const std::filesystem::path dir(opts.out_dir);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  std::ostringstream text;
  printText(report, text);
  writeFile(dir / "tune-report.txt", text.str());
  writeFile(dir / "tune-report.json", toJson(report));
  writeFile(dir / "suggested.yaml", suggestedYaml(report));
  Suggestions sug;
  for (const ServiceReport& s : report.services) {
    sug.emplace_back(s.analysis.service, s.analysis.suggested);
  }
  const std::string before = readFile(opts.config_path);
  std::string after;
  std::string error;
  if (!editConfigText(before, sug, after, error)) {
    throw Failure{prefixed(opts.config_path + ": " + error)};
  }
  writeFile(dir / "config.diff", unifiedDiff(before, after, diffName(opts.config_path)));
  for (const ServiceReport& s : report.services) {
    const auto it =
        std::find_if(history.services.begin(), history.services.end(),
                     [&s](const ServiceSeries& h) { return h.service == s.analysis.service; });
    writeFile(dir / ("tune-" + s.analysis.service + ".svg"), renderSvg(*it, s.analysis));
  }
  out << text.str();
}

int run(const TuneOptions& opts, std::ostream& out) {
  const config::LoadResult loaded = config::loadConfigFile(opts.config_path);
  if (!loaded.ok()) {
    throw Failure{prefixed(loaded.errors.empty() ? opts.config_path + ": invalid"
                                                 : loaded.errors.front().toString())};
  }
  const engine::EngineConfig& cfg = loaded.config->engine;
  History history;
  std::vector<std::string> origin;
  if (!opts.captures.empty()) {
    mergeRuns(replayAll(opts.captures, cfg, true), history);
    origin.push_back("captures: " + joined(opts.captures));
  }
  if (!opts.prometheus_url.empty()) {
    origin.push_back(addPrometheus(opts, cfg, history));
  }
  TuneReport report;
  report.origin = joined(origin);
  report.sensitivity = opts.sensitivity;
  for (const engine::ServiceConfig& sc : cfg.protection.services) {  // the config's order
    for (const ServiceSeries& s : history.services) {
      if (s.service == sc.name) {
        report.services.push_back({analyze(s, opts.sensitivity), std::nullopt});
      }
    }
  }
  if (report.services.empty()) {
    throw Failure{prefixed("no traffic to any configured service")};
  }
  if (!opts.captures.empty()) {
    whatIf(opts, cfg, report);
  }
  writeOutputs(opts, history, report, out);
  return 0;
}

}  // namespace

int runTune(const TuneOptions& opts, std::ostream& out, std::ostream& err) {
  if (opts.captures.empty() && opts.prometheus_url.empty()) {
    err << kPrefix << "give captures or --prometheus URL\n";
    return 2;
  }
  try {
    return run(opts, out);
  } catch (const Failure& f) {
    err << f.message << "\n";
    return 2;
  }
}

}  // namespace synguard::tune
