// synguard: SYN-flood defense for Linux gateways. main() only wires the parts together.
#include <getopt.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "daemon/cookie_key_file.h"
#include "daemon/replay.h"
#include "daemon/service_spec.h"

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
    "      --protect [NAME=]PREFIX[,PREFIX..]:PORT[-PORT][,..]  a protected service, run in\n"
    "                                monitor mode: the report shows when it would have switched\n"
    "                                to SYN cookies and what it would have dropped (repeatable)\n"
    "      --mode adaptive|always    protection mode of the --protect services (adaptive)\n"
    "      --half-open-on N / --half-open-off N   thresholds (defaults 1000 / 500)\n"
    "      --syn-rate-on R / --syn-rate-off R     SYNs a second (defaults 5000 / 2000)\n"
    "      --hold SECONDS            time under both 'off' values before leaving (30)\n"
    "      --source-syn-rate R       per source prefix SYN-rate limit (0: none)\n"
    "      --source-half-open N      per source prefix half-open limit (0: none)\n"
    "  cookie-key FILE               create the SYN-cookie master key file (0600, random) if\n"
    "                                it is missing, else check it; copy it to every gateway\n"
    "                                behind the same ECMP route\n"
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
  enum {
    kConnLog = 1,
    kJson,
    kVerify,
    kTable,
    kNoPickup,
    kTop,
    kProgress,
    kNoProgress,
    kNoSplit,
    kProtect,
    kMode,
    kHalfOpenOn,
    kHalfOpenOff,
    kSynRateOn,
    kSynRateOff,
    kHold,
    kSourceRate,
    kSourceHalfOpen,
  };
  std::vector<synguard::engine::ServiceConfig> services;
  synguard::engine::ServiceConfig proto;  // thresholds and limits for every --protect
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
      {"protect", required_argument, nullptr, kProtect},
      {"mode", required_argument, nullptr, kMode},
      {"half-open-on", required_argument, nullptr, kHalfOpenOn},
      {"half-open-off", required_argument, nullptr, kHalfOpenOff},
      {"syn-rate-on", required_argument, nullptr, kSynRateOn},
      {"syn-rate-off", required_argument, nullptr, kSynRateOff},
      {"hold", required_argument, nullptr, kHold},
      {"source-syn-rate", required_argument, nullptr, kSourceRate},
      {"source-half-open", required_argument, nullptr, kSourceHalfOpen},
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
      case kProtect: {
        auto s = synguard::daemon::parseServiceSpec(optarg);
        if (!s) {
          std::cerr << "synguard: --protect: " << s.error().message << "\n";
          return 2;
        }
        services.push_back(std::move(*s));
        break;
      }
      case kMode:
        if (std::strcmp(optarg, "adaptive") == 0) {
          proto.mode = synguard::engine::ProtectionMode::kAdaptive;
        } else if (std::strcmp(optarg, "always") == 0) {
          proto.mode = synguard::engine::ProtectionMode::kAlways;
        } else if (std::strcmp(optarg, "off") == 0) {
          proto.mode = synguard::engine::ProtectionMode::kOff;
        } else {
          std::cerr << "synguard: --mode: expected adaptive, always or off, got '" << optarg
                    << "'\n";
          return 2;
        }
        break;
      case kHalfOpenOn:
      case kHalfOpenOff:
      case kHold:
      case kSourceRate:
      case kSourceHalfOpen: {
        std::size_t v = 0;
        if (!parseSize(optarg, v) || v > 0xffffffffULL) {
          std::cerr << "synguard: expected a number, got '" << optarg << "'\n";
          return 2;
        }
        const auto v32 = static_cast<std::uint32_t>(v);
        if (c == kHalfOpenOn) {
          proto.thresholds.half_open_on = v32;
        } else if (c == kHalfOpenOff) {
          proto.thresholds.half_open_off = v32;
        } else if (c == kHold) {
          proto.thresholds.hold = std::chrono::seconds(v32);
        } else if (c == kSourceRate) {
          proto.per_source.syn_rate = v32;
        } else {
          proto.per_source.max_half_open = v32;
        }
        break;
      }
      case kSynRateOn:
      case kSynRateOff: {
        char* end = nullptr;
        const double v = std::strtod(optarg, &end);
        if (end == optarg || *end != '\0' || !(v >= 0)) {
          std::cerr << "synguard: expected a rate, got '" << optarg << "'\n";
          return 2;
        }
        (c == kSynRateOn ? proto.thresholds.syn_rate_on : proto.thresholds.syn_rate_off) = v;
        break;
      }
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
  for (auto& s : services) {
    s.mode = proto.mode;
    s.thresholds = proto.thresholds;
    s.per_source = proto.per_source;
    opts.engine.protection.services.push_back(std::move(s));
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
  if (cmd == "cookie-key") {
    if (argc != 3) {
      std::cerr << "usage: synguard cookie-key FILE\n";
      return 2;
    }
    auto k = synguard::daemon::loadOrCreateCookieKey(argv[2]);
    if (!k) {
      std::cerr << "synguard: " << k.error().message << "\n";
      return 1;
    }
    std::cout << argv[2] << ": " << (k->created ? "created a new key" : "key is valid") << "\n";
    return 0;
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
