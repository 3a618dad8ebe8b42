// synguard: SYN-flood defense for Linux gateways. main() only wires the parts together.
#include <getopt.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "config/loader.h"
#include "daemon/cli/service_spec.h"
#include "daemon/cli/status.h"
#include "daemon/inline/cookie_key_file.h"
#include "daemon/inline/run.h"
#include "daemon/replay/replay.h"

namespace {

constexpr const char* kUsage =
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

/// The options that declare protected services, shared by replay and run.
struct ProtectArgs {
  enum : int {
    kProtect = 1000,  // above every character getopt can return
    kMode,
    kHalfOpenOn,
    kHalfOpenOff,
    kSynRateOn,
    kSynRateOff,
    kHold,
    kSourceRate,
    kSourceHalfOpen,
    kOverload,
  };
  static constexpr option kLong[] = {
      {"protect", required_argument, nullptr, kProtect},
      {"mode", required_argument, nullptr, kMode},
      {"half-open-on", required_argument, nullptr, kHalfOpenOn},
      {"half-open-off", required_argument, nullptr, kHalfOpenOff},
      {"syn-rate-on", required_argument, nullptr, kSynRateOn},
      {"syn-rate-off", required_argument, nullptr, kSynRateOff},
      {"hold", required_argument, nullptr, kHold},
      {"source-syn-rate", required_argument, nullptr, kSourceRate},
      {"source-half-open", required_argument, nullptr, kSourceHalfOpen},
      {"overload", required_argument, nullptr, kOverload},
  };
  std::vector<synguard::engine::ServiceConfig> services;
  synguard::engine::ServiceConfig proto;  // thresholds and limits for every --protect

  /// 0: handled; 1: not a protection option; 2: bad value (reported).
  int handle(int c, const char* arg) {
    switch (c) {
      case kProtect: {
        auto s = synguard::daemon::parseServiceSpec(arg);
        if (!s) {
          std::cerr << "synguard: --protect: " << s.error().message << "\n";
          return 2;
        }
        services.push_back(std::move(*s));
        return 0;
      }
      case kMode:
        if (std::strcmp(arg, "adaptive") == 0) {
          proto.mode = synguard::engine::ProtectionMode::kAdaptive;
        } else if (std::strcmp(arg, "always") == 0) {
          proto.mode = synguard::engine::ProtectionMode::kAlways;
        } else if (std::strcmp(arg, "off") == 0) {
          proto.mode = synguard::engine::ProtectionMode::kOff;
        } else {
          std::cerr << "synguard: --mode: expected adaptive, always or off, got '" << arg << "'\n";
          return 2;
        }
        return 0;
      case kOverload:
        if (std::strcmp(arg, "drop_syn") == 0) {
          proto.overload = synguard::engine::OverloadPolicy::kDropSyn;
        } else if (std::strcmp(arg, "pass") == 0) {
          proto.overload = synguard::engine::OverloadPolicy::kPass;
        } else {
          std::cerr << "synguard: --overload: expected drop_syn or pass, got '" << arg << "'\n";
          return 2;
        }
        return 0;
      case kHalfOpenOn:
      case kHalfOpenOff:
      case kHold:
      case kSourceRate:
      case kSourceHalfOpen: {
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
      case kSynRateOn:
      case kSynRateOff: {
        char* end = nullptr;
        const double v = std::strtod(arg, &end);
        if (end == arg || *end != '\0' || !(v >= 0)) {
          std::cerr << "synguard: expected a rate, got '" << arg << "'\n";
          return 2;
        }
        (c == kSynRateOn ? proto.thresholds.syn_rate_on : proto.thresholds.syn_rate_off) = v;
        return 0;
      }
      default:
        return 1;
    }
  }
  /// For a command's `default:` branch: -1 when the option was a protection option (handled),
  /// else the exit code (a bad value was reported, or the option is unknown: usage).
  int handleOrRefuse(int c, const char* arg) {
    const int r = handle(c, arg);
    if (r == 0) {
      return -1;
    }
    if (r == 1) {
      std::cerr << kUsage;
    }
    return 2;
  }
  void apply(synguard::engine::ProtectionConfig& pc) {
    for (auto& s : services) {
      s.mode = proto.mode;
      s.overload = proto.overload;
      s.thresholds = proto.thresholds;
      s.per_source = proto.per_source;
      pc.services.push_back(std::move(s));
    }
    services.clear();
  }
};

/// getopt_long's table: `own` followed by the protection options.
std::vector<option> withProtect(std::initializer_list<option> own) {
  std::vector<option> v(own);
  for (const option& o : ProtectArgs::kLong) {
    v.push_back(o);
  }
  v.push_back(option{nullptr, 0, nullptr, 0});
  return v;
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
  };
  ProtectArgs protect;
  const std::vector<option> kLong = withProtect({
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
  });
  optind = 1;
  for (;;) {
    const int c = getopt_long(argc, argv, "h", kLong.data(), nullptr);
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
        if (const int rc = protect.handleOrRefuse(c, optarg); rc >= 0) {
          return rc;
        }
        break;
    }
  }
  for (int i = optind; i < argc; ++i) {
    opts.captures.emplace_back(argv[i]);
  }
  protect.apply(opts.engine.protection);
  if (opts.captures.empty()) {
    std::cerr << "synguard replay: no capture given\n" << kUsage;
    return 2;
  }
  return synguard::daemon::runReplay(opts, std::cout, std::cerr);
}

using synguard::daemon::RunOptions;

constexpr const char* kDefaultConfig = "/etc/synguard/synguard.yaml";

RunOptions fromConfig(const synguard::config::DaemonConfig& c) {
  RunOptions o;
  o.engine = c.engine;
  o.queues = c.queues;
  o.first_queue = c.first_queue;
  o.rule_mode =
      c.local_mode ? synguard::daemon::RuleMode::kLocal : synguard::daemon::RuleMode::kGateway;
  o.nft_table = c.nft_table;
  o.bypass = c.bypass_established;
  o.anti_spoofing = c.anti_spoofing;
  o.sides = c.service_sides;
  o.key_file = c.key_file;
  o.user = c.user;
  o.metrics_listen = c.metrics_enabled ? c.metrics_listen : std::string();
  o.stats_interval = c.stats_interval_seconds;
  synguard::daemon::Logger::Options log;
  (void)synguard::daemon::parseLogLevel(c.log_level, log.level);  // validated by the loader
  log.per_second = c.log_per_second;
  log.burst = c.log_burst;
  o.log = log;
  return o;
}

enum RunOpt : int {
  kMonitor = 1,
  kQueues,
  kFirstQueue,
  kLocal,
  kKeyFile,
  kKeyRotation,
  kTable,
  kProxyCapacity,
  kNoZeroWindow,
  kMaxAckDelay,
  kNftTable,
  kDeprecatedTable,  // --table: --nft-table's old spelling, which read like --table-size's table
  kPrintRules,
  kStats,
  kUser,
  kHalfOpenTimeout,
  kNoBypass,
  kMetrics,
  kConfig,
};

/// The command line's daemon-level options on top of the configuration file's values.
void applyOverrides(RunOptions& o, const RunOptions& cli, const std::set<int>& given) {
  for (const int c : given) {
    switch (c) {
      case kMonitor:
        o.engine.protection.dry_run = true;
        break;
      case kQueues:
        o.queues = cli.queues;
        break;
      case kFirstQueue:
        o.first_queue = cli.first_queue;
        break;
      case kLocal:
        o.rule_mode = cli.rule_mode;
        break;
      case kKeyFile:
        o.key_file = cli.key_file;
        break;
      case kKeyRotation:
        o.engine.protection.key_rotation = cli.engine.protection.key_rotation;
        break;
      case kTable:
        o.engine.table_capacity = cli.engine.table_capacity;
        break;
      case kProxyCapacity:
        o.engine.protection.proxy.capacity = cli.engine.protection.proxy.capacity;
        break;
      case kNoZeroWindow:
        o.engine.protection.proxy.hold_with_zero_window = false;
        break;
      case kNoBypass:
        o.bypass = false;
        break;
      case kMetrics:
        o.metrics_listen = cli.metrics_listen;
        break;
      case kMaxAckDelay:
        o.engine.protection.proxy.max_ack_delay = cli.engine.protection.proxy.max_ack_delay;
        break;
      case kNftTable:
      case kDeprecatedTable:
        o.nft_table = cli.nft_table;
        break;
      case kPrintRules:
        o.print_rules = true;
        break;
      case kStats:
        o.stats_interval = cli.stats_interval;
        break;
      case kUser:
        o.user = cli.user;
        break;
      case kHalfOpenTimeout:
        o.engine.timeouts.syn_sent = cli.engine.timeouts.syn_sent;
        o.engine.timeouts.syn_received = cli.engine.timeouts.syn_received;
        break;
      default:
        break;  // --config itself
    }
  }
}

int cmdRun(int argc, char** argv) {
  synguard::daemon::RunOptions opts;
  ProtectArgs protect;
  std::set<int> given;  // the options on the command line: they override the file
  bool table_warned = false;
  std::string config_path;
  const std::vector<option> kLong = withProtect({
      {"half-open-timeout", required_argument, nullptr, kHalfOpenTimeout},
      {"monitor", no_argument, nullptr, kMonitor},
      {"queues", required_argument, nullptr, kQueues},
      {"first-queue", required_argument, nullptr, kFirstQueue},
      {"local", no_argument, nullptr, kLocal},
      {"key-file", required_argument, nullptr, kKeyFile},
      {"key-rotation", required_argument, nullptr, kKeyRotation},
      {"table-size", required_argument, nullptr, kTable},
      {"proxy-capacity", required_argument, nullptr, kProxyCapacity},
      {"no-zero-window", no_argument, nullptr, kNoZeroWindow},
      {"no-bypass", no_argument, nullptr, kNoBypass},
      {"metrics", required_argument, nullptr, kMetrics},
      {"config", required_argument, nullptr, kConfig},
      {"max-ack-delay", required_argument, nullptr, kMaxAckDelay},
      {"nft-table", required_argument, nullptr, kNftTable},
      {"table", required_argument, nullptr, kDeprecatedTable},
      {"print-rules", no_argument, nullptr, kPrintRules},
      {"stats-interval", required_argument, nullptr, kStats},
      {"user", required_argument, nullptr, kUser},
      {"help", no_argument, nullptr, 'h'},
  });
  optind = 1;
  for (;;) {
    const int c = getopt_long(argc, argv, "h", kLong.data(), nullptr);
    if (c == -1) {
      break;
    }
    std::size_t v = 0;
    const auto number = [&](std::size_t max) {
      if (!parseSize(optarg, v) || v > max) {
        std::cerr << "synguard: expected a number up to " << max << ", got '" << optarg << "'\n";
        return false;
      }
      return true;
    };
    given.insert(c);
    switch (c) {
      case kConfig:
        config_path = optarg;
        break;
      case kMonitor:
        opts.engine.protection.dry_run = true;
        break;
      case kQueues:
        if (!number(64) || v == 0) {
          return 2;
        }
        opts.queues = static_cast<std::uint16_t>(v);
        break;
      case kFirstQueue:
        if (!number(65535 - 127)) {  // two ranges of up to 64 queues
          return 2;
        }
        opts.first_queue = static_cast<std::uint16_t>(v);
        break;
      case kLocal:
        opts.rule_mode = synguard::daemon::RuleMode::kLocal;
        break;
      case kKeyFile:
        opts.key_file = optarg;
        break;
      case kKeyRotation:
        if (!number(86400 * 365) || v == 0) {
          return 2;
        }
        opts.engine.protection.key_rotation = std::chrono::seconds(v);
        break;
      case kTable:
        if (!number(std::size_t{1} << 31) || v == 0) {
          return 2;
        }
        opts.engine.table_capacity = v;
        break;
      case kProxyCapacity:
        if (!number(std::size_t{1} << 26) || v == 0) {
          return 2;
        }
        opts.engine.protection.proxy.capacity = v;
        break;
      case kNoZeroWindow:
        opts.engine.protection.proxy.hold_with_zero_window = false;
        break;
      case kNoBypass:
        opts.bypass = false;
        break;
      case kMetrics:
        opts.metrics_listen = std::string(optarg) == "off" ? std::string() : std::string(optarg);
        break;
      case kMaxAckDelay:
        if (!number(4000)) {
          return 2;
        }
        opts.engine.protection.proxy.max_ack_delay = std::chrono::milliseconds(v);
        break;
      case kDeprecatedTable:
        if (!table_warned) {
          synguard::daemon::logLine(synguard::daemon::LogLevel::kWarning,
                                    "--table is deprecated: use --nft-table (the same option)");
          table_warned = true;
        }
        opts.nft_table = optarg;
        break;
      case kNftTable:
        opts.nft_table = optarg;
        break;
      case kPrintRules:
        opts.print_rules = true;
        break;
      case kStats: {
        char* end = nullptr;
        opts.stats_interval = std::strtod(optarg, &end);
        if (end == optarg || *end != '\0' || !(opts.stats_interval >= 0)) {
          std::cerr << "synguard: --stats-interval: expected seconds, got '" << optarg << "'\n";
          return 2;
        }
        break;
      }
      case kUser:
        opts.user = optarg;
        break;
      case kHalfOpenTimeout:
        if (!number(86400) || v == 0) {
          return 2;
        }
        opts.engine.timeouts.syn_sent = std::chrono::seconds(v);
        opts.engine.timeouts.syn_received = std::chrono::seconds(v);
        break;
      case 'h':
        std::cout << kUsage;
        return 0;
      default:
        if (const int rc = protect.handleOrRefuse(c, optarg); rc >= 0) {
          return rc;
        }
        break;
    }
  }
  if (optind < argc) {
    std::cerr << "synguard run: unexpected argument '" << argv[optind] << "'\n";
    return 2;
  }
  const bool protect_given =
      std::any_of(given.begin(), given.end(), [](int c) { return c >= ProtectArgs::kProtect; });
  struct stat st {};
  if (config_path.empty() && !protect_given && ::stat(kDefaultConfig, &st) == 0) {
    config_path = kDefaultConfig;
  }
  if (!config_path.empty()) {
    if (protect_given) {
      std::cerr << "synguard run: with a configuration file, services and thresholds are set in "
                   "it (services:), not with --protect, --mode or threshold options\n";
      return 2;
    }
    // The file, then the command line's options on top (also on every reload).
    const synguard::daemon::RunOptions cli = opts;
    // Each deprecation is logged once, at the start or the first reload that meets it.
    const auto warned = std::make_shared<std::set<std::string>>();
    const auto build = [config_path, cli, given, warned]() -> synguard::Result<RunOptions> {
      const auto loaded = synguard::config::loadConfigFile(config_path);
      for (const auto& d : loaded.warnings) {
        if (warned->insert(d.message).second) {
          synguard::daemon::logLine(synguard::daemon::LogLevel::kWarning, d.toString());
        }
      }
      if (!loaded.ok()) {
        std::string all;
        for (const auto& d : loaded.errors) {
          all += (all.empty() ? "" : "; ") + d.toString();
        }
        return synguard::Unexpected{synguard::Error{all}};
      }
      RunOptions o = fromConfig(*loaded.config);
      applyOverrides(o, cli, given);
      return o;
    };
    auto first = build();
    if (!first) {
      const auto loaded = synguard::config::loadConfigFile(config_path);
      for (const auto& d : loaded.errors) {
        std::cerr << d.toString() << "\n";
      }
      return 2;
    }
    opts = std::move(*first);
    opts.reload = build;
  } else if (!protect_given) {
    // Neither a file nor --protect: the built-in defaults, which protect all TCP adaptively.
    RunOptions o = fromConfig(synguard::config::defaultConfig());
    applyOverrides(o, opts, given);
    opts = std::move(o);
    std::cerr << "<4>synguard: no configuration file (" << kDefaultConfig
              << "): protecting all TCP destinations with the built-in defaults\n";
  } else {
    protect.apply(opts.engine.protection);
  }
  opts.version = SYNGUARD_VERSION;
  return synguard::daemon::runDaemon(opts);
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
  if (cmd == "run") {
    return cmdRun(argc - 1, argv + 1);
  }
  if (cmd == "check-config") {
    if (argc > 3) {
      std::cerr << "usage: synguard check-config [FILE]\n";
      return 2;
    }
    const std::string file = argc == 3 ? argv[2] : kDefaultConfig;
    const auto loaded = synguard::config::loadConfigFile(file);
    for (const auto& d : loaded.warnings) {
      std::cerr << d.toString() << "\n";
    }
    if (!loaded.ok()) {
      for (const auto& d : loaded.errors) {
        std::cerr << d.toString() << "\n";
      }
      return 1;
    }
    if (auto ok = synguard::engine::Engine::check(loaded.config->engine); !ok) {
      std::cerr << file << ": " << ok.error().message << "\n";
      return 1;
    }
    std::cout << file << ": ok, " << loaded.config->engine.protection.services.size()
              << " service(s)\n";
    return 0;
  }
  if (cmd == "status") {
    // status [--metrics ADDR:PORT] [--once|--watch]: refreshed on a terminal, one shot otherwise
    std::string listen = "127.0.0.1:9815";
    bool watch = ::isatty(STDOUT_FILENO) != 0;
    for (int i = 2; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--metrics" && i + 1 < argc) {
        listen = argv[++i];
      } else if (a == "--once") {
        watch = false;
      } else if (a == "--watch") {
        watch = true;
      } else {
        std::cerr << "usage: synguard status [--metrics ADDR:PORT] [--once|--watch]\n";
        return 2;
      }
    }
    return synguard::daemon::runStatus(listen, watch);
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
