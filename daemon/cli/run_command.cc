// synguard run: the command line and the configuration file made into RunOptions.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <set>
#include <string>

#include "config/loader.h"
#include "daemon/cli/commands.h"
#include "daemon/cli/options.h"
#include "daemon/inline/run.h"

namespace synguard::daemon {

namespace {

constexpr const char* kDefaultConfig = "/etc/synguard/synguard.yaml";

RunOptions fromConfig(const config::DaemonConfig& c) {
  RunOptions o;
  o.engine = c.engine;
  o.queues = c.queues;
  o.first_queue = c.first_queue;
  o.rule_mode = c.local_mode ? RuleMode::kLocal : RuleMode::kGateway;
  o.nft_table = c.nft_table;
  o.bypass = c.bypass_established;
  o.anti_spoofing = c.anti_spoofing;
  o.sides = c.service_sides;
  o.key_file = c.key_file;
  o.xdp = c.xdp;
  o.user = c.user;
  o.metrics_listen = c.metrics_enabled ? c.metrics_listen : std::string();
  o.stats_interval = c.stats_interval_seconds;
  Logger::Options log;
  (void)parseLogLevel(c.log_level, log.level);  // validated by the loader
  log.per_second = c.log_per_second;
  log.burst = c.log_burst;
  o.log = log;
  return o;
}

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
      case kTableSize:
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

/// The command line of `synguard run` as parsed so far.
struct RunArgs {
  RunOptions opts;
  ProtectArgs protect;
  std::set<int> given;  // the options on the command line: they override the file
  bool table_warned = false;
  std::string config_path;
};

/// The numeric options of run: kNextOption, kNotOwn, or 2 for a value out of range.
int runNumber(RunOptions& opts, int c, const char* arg) {
  std::size_t v = 0;
  const auto number = [&](std::size_t max) {
    if (!parseSize(arg, v) || v > max) {
      std::cerr << "synguard: expected a number up to " << max << ", got '" << arg << "'\n";
      return false;
    }
    return true;
  };
  switch (c) {
    case kQueues:
      if (!number(64) || v == 0) {
        return 2;
      }
      opts.queues = static_cast<std::uint16_t>(v);
      return kNextOption;
    case kFirstQueue:
      if (!number(65535 - 127)) {  // two ranges of up to 64 queues
        return 2;
      }
      opts.first_queue = static_cast<std::uint16_t>(v);
      return kNextOption;
    case kKeyRotation:
      if (!number(86400 * 365) || v == 0) {
        return 2;
      }
      opts.engine.protection.key_rotation = std::chrono::seconds(v);
      return kNextOption;
    case kTableSize:
      if (!number(std::size_t{1} << 31) || v == 0) {
        return 2;
      }
      opts.engine.table_capacity = v;
      return kNextOption;
    case kProxyCapacity:
      if (!number(std::size_t{1} << 26) || v == 0) {
        return 2;
      }
      opts.engine.protection.proxy.capacity = v;
      return kNextOption;
    case kMaxAckDelay:
      if (!number(4000)) {
        return 2;
      }
      opts.engine.protection.proxy.max_ack_delay = std::chrono::milliseconds(v);
      return kNextOption;
    case kHalfOpenTimeout:
      if (!number(86400) || v == 0) {
        return 2;
      }
      opts.engine.timeouts.syn_sent = std::chrono::seconds(v);
      opts.engine.timeouts.syn_received = std::chrono::seconds(v);
      return kNextOption;
    default:
      return kNotOwn;
  }
}

int runOption(RunArgs& a, int c, const char* arg) {
  a.given.insert(c);
  RunOptions& opts = a.opts;
  switch (c) {
    case kConfig:
      a.config_path = arg;
      return kNextOption;
    case kMonitor:
      opts.engine.protection.dry_run = true;
      return kNextOption;
    case kLocal:
      opts.rule_mode = RuleMode::kLocal;
      return kNextOption;
    case kKeyFile:
      opts.key_file = arg;
      return kNextOption;
    case kNoZeroWindow:
      opts.engine.protection.proxy.hold_with_zero_window = false;
      return kNextOption;
    case kNoBypass:
      opts.bypass = false;
      return kNextOption;
    case kMetrics:
      opts.metrics_listen = std::string(arg) == "off" ? std::string() : std::string(arg);
      return kNextOption;
    case kDeprecatedTable:
      if (!a.table_warned) {
        logLine(LogLevel::kWarning, "--table is deprecated: use --nft-table (the same option)");
        a.table_warned = true;
      }
      opts.nft_table = arg;
      return kNextOption;
    case kNftTable:
      opts.nft_table = arg;
      return kNextOption;
    case kPrintRules:
      opts.print_rules = true;
      return kNextOption;
    case kStats: {
      char* end = nullptr;
      opts.stats_interval = std::strtod(arg, &end);
      if (end == arg || *end != '\0' || !(opts.stats_interval >= 0)) {
        std::cerr << "synguard: --stats-interval: expected seconds, got '" << arg << "'\n";
        return 2;
      }
      return kNextOption;
    }
    case kUser:
      opts.user = arg;
      return kNextOption;
    default:
      return runNumber(opts, c, arg);
  }
}

/// The file, then the command line's options on top: at the start and on every reload.
int withConfigFile(RunArgs& a) {
  const RunOptions cli = a.opts;
  // Each deprecation is logged once, at the start or the first reload that meets it.
  const auto warned = std::make_shared<std::set<std::string>>();
  const auto build = [config_path = a.config_path, cli, given = a.given,
                      warned]() -> Result<RunOptions> {
    const auto loaded = config::loadConfigFile(config_path);
    for (const auto& d : loaded.warnings) {
      if (warned->insert(d.message).second) {
        logLine(LogLevel::kWarning, d.toString());
      }
    }
    if (!loaded.ok()) {
      std::string all;
      for (const auto& d : loaded.errors) {
        all += (all.empty() ? "" : "; ") + d.toString();
      }
      return Unexpected{Error{all}};
    }
    RunOptions o = fromConfig(*loaded.config);
    applyOverrides(o, cli, given);
    return o;
  };
  auto first = build();
  if (!first) {
    const auto loaded = config::loadConfigFile(a.config_path);
    for (const auto& d : loaded.errors) {
      std::cerr << d.toString() << "\n";
    }
    return 2;
  }
  a.opts = std::move(*first);
  a.opts.reload = build;
  return kNextOption;
}

}  // namespace

int cmdRun(int argc, char** argv) {
  RunArgs a;
  const int rc = parseOptions(kRunCommand, argc, argv, a.protect,
                              [&a](int c, const char* arg) { return runOption(a, c, arg); });
  if (rc != kNextOption) {
    return rc;
  }
  if (optind < argc) {
    std::cerr << "synguard run: unexpected argument '" << argv[optind] << "'\n";
    return 2;
  }
  const bool protect_given =
      std::any_of(a.given.begin(), a.given.end(), [](int c) { return c >= kProtect; });
  struct stat st {};
  if (a.config_path.empty() && !protect_given && ::stat(kDefaultConfig, &st) == 0) {
    a.config_path = kDefaultConfig;
  }
  if (!a.config_path.empty()) {
    if (protect_given) {
      std::cerr << "synguard run: with a configuration file, services and thresholds are set in "
                   "it (services:), not with --protect, --mode or threshold options\n";
      return 2;
    }
    if (const int code = withConfigFile(a); code != kNextOption) {
      return code;
    }
  } else if (!protect_given) {
    // Neither a file nor --protect: the built-in defaults, which protect all TCP adaptively.
    RunOptions o = fromConfig(config::defaultConfig());
    applyOverrides(o, a.opts, a.given);
    a.opts = std::move(o);
    std::cerr << "<4>synguard: no configuration file (" << kDefaultConfig
              << "): protecting all TCP destinations with the built-in defaults\n";
  } else {
    a.protect.apply(a.opts.engine.protection);
  }
  a.opts.version = SYNGUARD_VERSION;
  return runDaemon(a.opts);
}

}  // namespace synguard::daemon
