// A driver for tests/tune/prometheus_history.sh: loadPrometheusHistory against a real server,
// the samples summarised as JSON on stdout (the loader's own check, apart from the analysis of
// `synguard tune`). Exit 2 with the loader's error on stderr.
//   prometheus_dump URL SINCE_SECONDS END_UNIX STEP_SECONDS SERVICE...
#include <cstdlib>
#include <exception>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "daemon/tune/prometheus_source.h"

namespace {

int run(const std::vector<std::string>& args) {
  if (args.size() < 6) {
    std::cerr << "usage: prometheus_dump URL SINCE_SECONDS END_UNIX STEP_SECONDS SERVICE...\n";
    return 2;
  }
  synguard::tune::PrometheusQuery q;
  q.url = args[1];
  q.since_seconds = std::strtod(args[2].c_str(), nullptr);
  q.end = std::strtod(args[3].c_str(), nullptr);
  q.step_seconds = std::strtod(args[4].c_str(), nullptr);
  q.services.assign(args.begin() + 5, args.end());
  synguard::tune::History history;
  std::string error;
  if (!synguard::tune::loadPrometheusHistory(q, history, error)) {
    std::cerr << "prometheus_dump: " << error << "\n";
    return 2;
  }
  nlohmann::json out = {{"origin", history.origin}, {"services", nlohmann::json::array()}};
  for (const auto& s : history.services) {
    nlohmann::json series = {{"service", s.service}, {"samples", s.samples.size()}};
    int cookie = 0;
    int incomplete = 0;
    int unknown = 0;
    double peak_half_open = 0;
    double peak_syn_rate = 0;
    for (const auto& sample : s.samples) {
      cookie += sample.cookie_mode ? 1 : 0;
      unknown += sample.completed < 0 ? 1 : 0;
      incomplete += sample.completed >= 0 && sample.completed < 0.5 * sample.syns ? 1 : 0;
      peak_half_open = std::max(peak_half_open, sample.half_open);
      peak_syn_rate = std::max(peak_syn_rate, sample.syn_rate);
    }
    series["cookie_mode"] = cookie;
    series["completed_below_half"] = incomplete;
    series["completed_unknown"] = unknown;
    series["peak_half_open"] = peak_half_open;
    series["peak_syn_rate"] = peak_syn_rate;
    series["first_t"] = s.samples.front().t;
    series["last_t"] = s.samples.back().t;
    series["width"] = s.samples.front().width;
    out["services"].push_back(series);
  }
  std::cout << out.dump(1) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(std::vector<std::string>(argv, argv + argc));
  } catch (const std::exception& e) {  // nlohmann::json's, or out of memory
    std::cerr << "prometheus_dump: " << e.what() << "\n";
    return 2;
  }
}
