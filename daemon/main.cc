// synguard: SYN-flood defense for Linux gateways. main() only wires the parts together.
#include <getopt.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "daemon/replay.h"

namespace {

constexpr const char* kUsage =
    "usage: synguard <command> [options]\n"
    "\n"
    "commands:\n"
    "  replay [options] CAPTURE...   run pcap/pcapng captures through the engine offline\n"
    "      --conn-log FILE           write one tab-separated line per connection\n"
    "      --json                    print the summary as one JSON document\n"
    "      --verify-checksums        count segments with a bad TCP checksum as malformed\n"
    "      --table-size N            connection table capacity (default 1048576)\n"
    "      --no-pickup               do not track connections whose handshake was not seen\n"
    "      --top N                   rows in the top services/sources lists (default 10)\n"
    "      --no-attempt-split        keep an unanswered attempt as one connection until its\n"
    "                                SYN-SENT timeout (default: conclude it after 5 s, as Zeek)\n"
    "      --progress / --no-progress  progress line on stderr (default: when a terminal)\n"
    "  version                       print the version\n"
    "  help                          this text\n";

bool parseSize(const char* s, std::size_t& out) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || s[0] == '-') {
    return false;
  }
  out = static_cast<std::size_t>(v);
  return true;
}

int cmdReplay(int argc, char** argv) {
  synguard::daemon::ReplayOptions opts;
  opts.progress = isatty(STDERR_FILENO) != 0;
  enum { kConnLog = 1, kJson, kVerify, kTable, kNoPickup, kTop, kProgress, kNoProgress, kNoSplit };
  static const option kLong[] = {
      {"conn-log", required_argument, nullptr, kConnLog},
      {"json", no_argument, nullptr, kJson},
      {"verify-checksums", no_argument, nullptr, kVerify},
      {"table-size", required_argument, nullptr, kTable},
      {"no-pickup", no_argument, nullptr, kNoPickup},
      {"top", required_argument, nullptr, kTop},
      {"progress", no_argument, nullptr, kProgress},
      {"no-progress", no_argument, nullptr, kNoProgress},
      {"no-attempt-split", no_argument, nullptr, kNoSplit},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  optind = 1;
  for (;;) {
    const int c = getopt_long(argc, argv, "h", kLong, nullptr);
    if (c == -1) {
      break;
    }
    switch (c) {
      case kConnLog:
        opts.conn_log = optarg;
        break;
      case kJson:
        opts.json = true;
        break;
      case kVerify:
        opts.engine.parse.verify_checksum = true;
        break;
      case kTable:
        if (!parseSize(optarg, opts.engine.table_capacity) || opts.engine.table_capacity == 0) {
          std::cerr << "synguard: --table-size: expected a positive number, got '" << optarg
                    << "'\n";
          return 2;
        }
        break;
      case kNoPickup:
        opts.engine.pickup_midstream = false;
        break;
      case kTop:
        if (!parseSize(optarg, opts.top_n)) {
          std::cerr << "synguard: --top: expected a number, got '" << optarg << "'\n";
          return 2;
        }
        break;
      case kProgress:
        opts.progress = true;
        break;
      case kNoProgress:
        opts.progress = false;
        break;
      case kNoSplit:
        opts.attempt_timeout = false;
        break;
      case 'h':
        std::cout << kUsage;
        return 0;
      default:
        std::cerr << kUsage;
        return 2;
    }
  }
  for (int i = optind; i < argc; ++i) {
    opts.captures.emplace_back(argv[i]);
  }
  if (opts.captures.empty()) {
    std::cerr << "synguard replay: no capture given\n" << kUsage;
    return 2;
  }
  return synguard::daemon::runReplay(opts, std::cout, std::cerr);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string cmd = argv[1];
  if (cmd == "replay") {
    return cmdReplay(argc - 1, argv + 1);
  }
  if (cmd == "version" || cmd == "--version") {
    std::cout << "synguard " << SYNGUARD_VERSION << "\n";
    return 0;
  }
  if (cmd == "help" || cmd == "--help" || cmd == "-h") {
    std::cout << kUsage;
    return 0;
  }
  std::cerr << "synguard: unknown command '" << cmd << "'\n" << kUsage;
  return 2;
}
