// synguard replay: captures through the engine, offline.
#include <unistd.h>

#include <iostream>

#include "daemon/cli/commands.h"
#include "daemon/cli/options.h"
#include "daemon/replay/replay.h"

namespace synguard::daemon {

namespace {

int replayOption(replay::ReplayOptions& opts, int c, const char* arg) {
  switch (c) {
    case kConnLog:
      opts.conn_log = arg;
      return kNextOption;
    case kJson:
      opts.json = true;
      return kNextOption;
    case kVerify:
      opts.engine.parse.verify_checksum = true;
      return kNextOption;
    case kTableSize:
      if (!parseSize(arg, opts.engine.table_capacity) || opts.engine.table_capacity == 0) {
        std::cerr << "synguard: --table-size: expected a positive number, got '" << arg << "'\n";
        return 2;
      }
      return kNextOption;
    case kNoPickup:
      opts.engine.pickup_midstream = false;
      return kNextOption;
    case kTop:
      if (!parseSize(arg, opts.top_n)) {
        std::cerr << "synguard: --top: expected a number, got '" << arg << "'\n";
        return 2;
      }
      return kNextOption;
    case kProgress:
      opts.progress = true;
      return kNextOption;
    case kNoProgress:
      opts.progress = false;
      return kNextOption;
    case kNoSplit:
      opts.attempt_timeout = false;
      return kNextOption;
    default:
      return kNotOwn;
  }
}

}  // namespace

int cmdReplay(int argc, char** argv) {
  replay::ReplayOptions opts;
  opts.progress = isatty(STDERR_FILENO) != 0;
  ProtectArgs protect;
  const int rc = parseOptions(kReplayCommand, argc, argv, protect, [&opts](int c, const char* arg) {
    return replayOption(opts, c, arg);
  });
  if (rc != kNextOption) {
    return rc;
  }
  for (int i = optind; i < argc; ++i) {
    opts.captures.emplace_back(argv[i]);
  }
  protect.apply(opts.engine.protection);
  if (opts.captures.empty()) {
    std::cerr << "synguard replay: no capture given\n" << kUsage;
    return 2;
  }
  return replay::runReplay(opts, std::cout, std::cerr);
}

}  // namespace synguard::daemon
