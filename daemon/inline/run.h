#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "daemon/inline/log.h"
#include "daemon/inline/nft_rules.h"
#include "engine/engine.h"

namespace synguard::daemon {

struct RunOptions {
  engine::EngineConfig engine;  ///< services, thresholds, timeouts (master key filled at start)
  std::uint16_t queues = 0;     ///< 0: one per online CPU
  std::uint16_t first_queue = 0;
  RuleMode rule_mode = RuleMode::kGateway;
  std::string nft_table = "synguard";  ///< rules.nft_table / --nft-table (family inet)
  bool bypass = true;         ///< established untranslated connections skip the queue (RuleOptions)
  bool anti_spoofing = true;  ///< rules.anti_spoofing (RuleOptions)
  std::map<std::string, config::ServiceSide> sides;  ///< per service (RuleOptions::sides)
  std::string key_file = "/var/lib/synguard/cookie.key";
  config::XdpConfig xdp;      ///< the XDP fast path (xdp.interfaces, xdp.mode)
  bool print_rules = false;   ///< print the ruleset and exit
  double stats_interval = 0;  ///< seconds between "stats:" lines on stderr (0: none)
  std::string user;           ///< drop to this user after setup (keeping two capabilities)
  /// Prometheus endpoint, "ADDRESS:PORT" (docs/METRICS.md); empty: none.
  std::string metrics_listen = "127.0.0.1:9815";
  std::string version;                 ///< for synguard_build_info
  std::optional<Logger::Options> log;  ///< level and rate limit (default: the logger's)
  /// SIGHUP: reads the configuration again (the file named by --config plus the command line's
  /// overrides). Empty: nothing to reload.
  std::function<Result<RunOptions>()> reload;
};

/// `synguard run`: binds the queues, installs the rules, runs one engine per queue until
/// SIGTERM/SIGINT, then removes the rules and exits. Returns the exit code.
int runDaemon(const RunOptions& opts);

}  // namespace synguard::daemon
