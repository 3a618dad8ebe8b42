// synguard tune: thresholds per service from captures and/or a Prometheus server's history.
#include <getopt.h>

#include <iostream>
#include <string>

#include "daemon/cli/commands.h"
#include "daemon/cli/options.h"
#include "daemon/tune/prometheus_source.h"
#include "daemon/tune/tune.h"

namespace synguard::daemon {

namespace {

enum TuneOption : int {
  kTuneConfig = 1,
  kTuneSensitivity,
  kTuneAttack,
  kTuneOut,
  kTunePrometheus,
  kTuneSince,
  kTuneStep,
};

constexpr option kTuneOptions[] = {
    {"config", required_argument, nullptr, kTuneConfig},
    {"sensitivity", required_argument, nullptr, kTuneSensitivity},
    {"attack", required_argument, nullptr, kTuneAttack},
    {"out", required_argument, nullptr, kTuneOut},
    {"prometheus", required_argument, nullptr, kTunePrometheus},
    {"since", required_argument, nullptr, kTuneSince},
    {"step", required_argument, nullptr, kTuneStep},
    {"help", no_argument, nullptr, 'h'},
    {nullptr, 0, nullptr, 0},
};

/// Empty when taken, else the one-line complaint.
std::string tuneOption(tune::TuneOptions& o, int c, const std::string& arg) {
  switch (c) {
    case kTuneConfig:
      o.config_path = arg;
      return "";
    case kTuneSensitivity:
      return tune::parseSensitivity(arg, o.sensitivity)
                 ? ""
                 : "--sensitivity: expected low, medium or high, got '" + arg + "'";
    case kTuneAttack:
      o.attacks.push_back(arg);
      return "";
    case kTuneOut:
      o.out_dir = arg;
      return "";
    case kTunePrometheus:
      o.prometheus_url = arg;
      return "";
    case kTuneSince:
      return tune::parseDuration(arg, o.since_seconds)
                 ? ""
                 : "--since: expected a duration such as 14d, 36h or 600s, got '" + arg + "'";
    case kTuneStep:
      return tune::parseDuration(arg, o.step_seconds)
                 ? ""
                 : "--step: expected a duration such as 60s, got '" + arg + "'";
    default:
      return "unknown option (see synguard help)";
  }
}

}  // namespace

int cmdTune(int argc, char** argv) {
  tune::TuneOptions opts;
  optind = 1;
  opterr = 0;  // one line of our own instead of getopt's
  for (;;) {
    const int c = getopt_long(argc, argv, ":h", kTuneOptions, nullptr);
    if (c == -1) {
      break;
    }
    if (c == 'h') {
      std::cout << kUsage;
      return 0;
    }
    std::string problem;
    if (c == ':') {
      problem = std::string(argv[optind - 1]) + ": needs a value";
    } else if (c == '?') {
      problem = "unknown option '" + std::string(argv[optind - 1]) + "'";
    } else {
      problem = tuneOption(opts, c, optarg);
    }
    if (!problem.empty()) {
      std::cerr << "synguard tune: " << problem << "\n";
      return 2;
    }
  }
  for (int i = optind; i < argc; ++i) {
    opts.captures.emplace_back(argv[i]);
  }
  if (opts.config_path.empty()) {
    std::cerr << "synguard tune: --config FILE is required\n";
    return 2;
  }
  return tune::runTune(opts, std::cout, std::cerr);
}

}  // namespace synguard::daemon
