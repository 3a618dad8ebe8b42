#include "daemon/cli/options.h"

#include <getopt.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "daemon/cli/service_spec.h"

namespace synguard::daemon {

const char* const kUsage =
    "usage: synguard <command> [options]\n"
    "\n"
    "commands:\n"
    "  check-config [FILE]           validate a configuration file (default "
    "/etc/synguard/synguard.yaml)\n"
    "  status [--metrics ADDR:PORT] [--once|--watch]\n"
    "                                the running daemon's services, modes, half-open and rates\n"
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
    "  tune --config FILE [options] [CAPTURE...]\n"
    "                                suggest thresholds per service from normal traffic\n"
    "                                (docs/TUNING.md); writes tune-report.txt/.json,\n"
    "                                suggested.yaml, config.diff and tune-SERVICE.svg\n"
    "      --sensitivity low|medium|high  margins above the traffic (default medium)\n"
    "      --attack CAPTURE          a capture the suggestion must react to (repeatable)\n"
    "      --out DIR                 where the files go (default .)\n"
    "      --prometheus URL          also learn from this Prometheus server's history\n"
    "      --since DURATION          how far back (default 14d); --step DURATION (60s)\n"
    "  run [options]                 protect services inline: NFQUEUE, raw sockets, nftables\n"
    "      --config FILE             YAML configuration (default /etc/synguard/synguard.yaml if\n"
    "                                it exists); the options below override it; SIGHUP reloads\n"
    "      --protect SPEC, --mode, thresholds and per-source limits as for replay (enforced)\n"
    "      --overload drop_syn|pass  SYNs to the --protect services while the queue is full:\n"
    "                                dropped in cookie mode (default), or passed (fail-open)\n"
    "      --monitor                 count what would be dropped or answered, accept everything\n"
    "      --queues N                worker queues/threads (default: one per CPU)\n"
    "      --first-queue N           first NFQUEUE number (default 0); the SYN queues follow\n"
    "                                the regular ones (N+queues .. N+2*queues-1)\n"
    "      --local                   protect this host's own services (also queue its replies)\n"
    "      --key-file FILE           SYN-cookie master key (default /var/lib/synguard/cookie.key)\n"
    "      --key-rotation SECONDS    cookie key period (default 3600)\n"
    "      --table-size N            connection table capacity per queue (default 1048576)\n"
    "      --half-open-timeout SECONDS  SYN-SENT/SYN-RECEIVED timeouts (default 120/60)\n"
    "      --proxy-capacity N        proxied connections per queue (default 65536)\n"
    "      --no-zero-window          do not hold cookie clients at a zero window; buffer early "
    "data\n"
    "      --metrics ADDR:PORT       Prometheus endpoint (default 127.0.0.1:9815; 'off': none)\n"
    "      --no-bypass               queue every segment of the services (default: established\n"
    "                                untranslated connections bypass the queue, closes do not)\n"
    "      --max-ack-delay MS        bound on the RTT delay of the server ACK (default 200)\n"
    "      --nft-table NAME          nftables table name (family inet; default synguard);\n"
    "                                --table NAME is its deprecated spelling\n"
    "      --print-rules             print the nftables ruleset and exit (dry run)\n"
    "      --stats-interval SECONDS  a stats line on stderr this often (default: none)\n"
    "      --user NAME               drop to this user after setup (keeps CAP_NET_ADMIN/RAW)\n"
    "  cookie-key FILE               create the SYN-cookie master key file (0600, random) if\n"
    "                                it is missing, else check it; copy it to every gateway\n"
    "                                behind the same ECMP route\n"
    "  version                       print the version\n"
    "  help                          this text\n";

namespace {

struct OptionSpec {
  const char* name;
  int has_arg;
  int id;
  unsigned commands;  ///< CliCommand bits
};

constexpr unsigned kBoth = kReplayCommand | kRunCommand;

// The one option table. getopt_long sees a command's rows only, so an abbreviation is
// ambiguous exactly when two of that command's options share its prefix.
constexpr OptionSpec kOptions[] = {
    {"conn-log", required_argument, kConnLog, kReplayCommand},
    {"json", no_argument, kJson, kReplayCommand},
    {"verify-checksums", no_argument, kVerify, kReplayCommand},
    {"no-pickup", no_argument, kNoPickup, kReplayCommand},
    {"top", required_argument, kTop, kReplayCommand},
    {"progress", no_argument, kProgress, kReplayCommand},
    {"no-progress", no_argument, kNoProgress, kReplayCommand},
    {"no-attempt-split", no_argument, kNoSplit, kReplayCommand},
    {"half-open-timeout", required_argument, kHalfOpenTimeout, kRunCommand},
    {"monitor", no_argument, kMonitor, kRunCommand},
    {"queues", required_argument, kQueues, kRunCommand},
    {"first-queue", required_argument, kFirstQueue, kRunCommand},
    {"local", no_argument, kLocal, kRunCommand},
    {"key-file", required_argument, kKeyFile, kRunCommand},
    {"key-rotation", required_argument, kKeyRotation, kRunCommand},
    {"proxy-capacity", required_argument, kProxyCapacity, kRunCommand},
    {"no-zero-window", no_argument, kNoZeroWindow, kRunCommand},
    {"no-bypass", no_argument, kNoBypass, kRunCommand},
    {"metrics", required_argument, kMetrics, kRunCommand},
    {"config", required_argument, kConfig, kRunCommand | kTuneCommand},
    {"max-ack-delay", required_argument, kMaxAckDelay, kRunCommand},
    {"nft-table", required_argument, kNftTable, kRunCommand},
    {"table", required_argument, kDeprecatedTable, kRunCommand},
    {"print-rules", no_argument, kPrintRules, kRunCommand},
    {"stats-interval", required_argument, kStats, kRunCommand},
    {"user", required_argument, kUser, kRunCommand},
    {"sensitivity", required_argument, kSensitivity, kTuneCommand},
    {"attack", required_argument, kAttack, kTuneCommand},
    {"out", required_argument, kOut, kTuneCommand},
    {"prometheus", required_argument, kPrometheus, kTuneCommand},
    {"since", required_argument, kSince, kTuneCommand},
    {"step", required_argument, kStep, kTuneCommand},
    {"table-size", required_argument, kTableSize, kBoth},
    {"help", no_argument, 'h', kBoth | kTuneCommand},
    {"protect", required_argument, kProtect, kBoth},
    {"mode", required_argument, kMode, kBoth},
    {"half-open-on", required_argument, kHalfOpenOn, kBoth},
    {"half-open-off", required_argument, kHalfOpenOff, kBoth},
    {"syn-rate-on", required_argument, kSynRateOn, kBoth},
    {"syn-rate-off", required_argument, kSynRateOff, kBoth},
    {"hold", required_argument, kHold, kBoth},
    {"source-syn-rate", required_argument, kSourceRate, kBoth},
    {"source-half-open", required_argument, kSourceHalfOpen, kBoth},
    {"overload", required_argument, kOverload, kBoth},
};

int setMode(engine::ServiceConfig& proto, const char* arg) {
  if (std::strcmp(arg, "adaptive") == 0) {
    proto.mode = engine::ProtectionMode::kAdaptive;
  } else if (std::strcmp(arg, "always") == 0) {
    proto.mode = engine::ProtectionMode::kAlways;
  } else if (std::strcmp(arg, "off") == 0) {
    proto.mode = engine::ProtectionMode::kOff;
  } else {
    std::cerr << "synguard: --mode: expected adaptive, always or off, got '" << arg << "'\n";
    return 2;
  }
  return 0;
}

int setOverload(engine::ServiceConfig& proto, const char* arg) {
  if (std::strcmp(arg, "drop_syn") == 0) {
    proto.overload = engine::OverloadPolicy::kDropSyn;
  } else if (std::strcmp(arg, "pass") == 0) {
    proto.overload = engine::OverloadPolicy::kPass;
  } else {
    std::cerr << "synguard: --overload: expected drop_syn or pass, got '" << arg << "'\n";
    return 2;
  }
  return 0;
}

int setCount(engine::ServiceConfig& proto, int c, const char* arg) {
  std::size_t v = 0;
  if (!parseSize(arg, v) || v > 0xffffffffULL) {
    std::cerr << "synguard: expected a number, got '" << arg << "'\n";
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
  return 0;
}

int setRate(engine::ServiceConfig& proto, int c, const char* arg) {
  char* end = nullptr;
  const double v = std::strtod(arg, &end);
  if (end == arg || *end != '\0' || !(v >= 0)) {
    std::cerr << "synguard: expected a rate, got '" << arg << "'\n";
    return 2;
  }
  (c == kSynRateOn ? proto.thresholds.syn_rate_on : proto.thresholds.syn_rate_off) = v;
  return 0;
}

}  // namespace

std::vector<option> longOptions(CliCommand command) {
  std::vector<option> v;
  for (const OptionSpec& o : kOptions) {
    if ((o.commands & command) != 0) {
      v.push_back(option{o.name, o.has_arg, nullptr, o.id});
    }
  }
  v.push_back(option{nullptr, 0, nullptr, 0});
  return v;
}

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

int ProtectArgs::handle(int c, const char* arg) {
  switch (c) {
    case kProtect: {
      auto s = parseServiceSpec(arg);
      if (!s) {
        std::cerr << "synguard: --protect: " << s.error().message << "\n";
        return 2;
      }
      services.push_back(std::move(*s));
      return 0;
    }
    case kMode:
      return setMode(proto, arg);
    case kOverload:
      return setOverload(proto, arg);
    case kHalfOpenOn:
    case kHalfOpenOff:
    case kHold:
    case kSourceRate:
    case kSourceHalfOpen:
      return setCount(proto, c, arg);
    case kSynRateOn:
    case kSynRateOff:
      return setRate(proto, c, arg);
    default:
      return 1;
  }
}

void ProtectArgs::apply(engine::ProtectionConfig& pc) {
  for (auto& s : services) {
    s.mode = proto.mode;
    s.overload = proto.overload;
    s.thresholds = proto.thresholds;
    s.per_source = proto.per_source;
    pc.services.push_back(std::move(s));
  }
  services.clear();
}

int parseOptions(CliCommand command, int argc, char** argv, ProtectArgs& protect,
                 const std::function<int(int, const char*)>& handle) {
  const std::vector<option> long_options = longOptions(command);
  optind = 1;
  for (;;) {
    const int c = getopt_long(argc, argv, "h", long_options.data(), nullptr);
    if (c == -1) {
      return kNextOption;
    }
    if (c == 'h') {
      std::cout << kUsage;
      return 0;
    }
    if (const int rc = handle(c, optarg); rc != kNotOwn) {
      if (rc == kNextOption) {
        continue;
      }
      return rc;
    }
    const int r = protect.handle(c, optarg);
    if (r == 1) {
      std::cerr << kUsage;
    }
    if (r != 0) {
      return 2;
    }
  }
}

}  // namespace synguard::daemon
