// synguard tune: thresholds per service from captures and/or a Prometheus server's history.
#include <getopt.h>

#include <iostream>
#include <string>
#include <vector>

#include "daemon/cli/commands.h"
#include "daemon/cli/options.h"
#include "daemon/tune/prometheus_source.h"
#include "daemon/tune/tune.h"

namespace synguard::daemon {

namespace {

/// Empty when `parsed`, else the one-line complaint about the value `arg` of --`name`.
std::string complaint(bool parsed, const char* name, const char* expected, const std::string& arg) {
  return parsed ? "" : std::string("--") + name + ": expected " + expected + ", got '" + arg + "'";
}

/// Empty when taken, else the one-line complaint.
std::string tuneOption(tune::TuneOptions& o, int c, const std::string& arg) {
  switch (c) {
    case kConfig:
      o.config_path = arg;
      break;
    case kAttack:
      o.attacks.push_back(arg);
      break;
    case kOut:
      o.out_dir = arg;
      break;
    case kPrometheus:
      o.prometheus_url = arg;
      break;
    case kSensitivity:
      return complaint(tune::parseSensitivity(arg, o.sensitivity), "sensitivity",
                       "low, medium or high", arg);
    case kSince:
      return complaint(tune::parseDuration(arg, o.since_seconds), "since",
                       "a duration such as 14d, 36h or 600s", arg);
    case kStep:
      return complaint(tune::parseDuration(arg, o.step_seconds), "step", "a duration such as 60s",
                       arg);
    default:
      return "unknown option (see synguard help)";
  }
  return "";
}

}  // namespace

int cmdTune(int argc, char** argv) {
  tune::TuneOptions opts;
  optind = 1;
  opterr = 0;  // one line of our own instead of getopt's
  const std::vector<option> long_options = longOptions(kTuneCommand);
  for (;;) {
    const int c = getopt_long(argc, argv, ":h", long_options.data(), nullptr);
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
