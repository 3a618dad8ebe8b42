#pragma once

#include <cstdint>
#include <string>

#include "engine/engine.h"

namespace synguard::config {

/// Everything `/etc/synguard/synguard.yaml` sets: the engine's configuration plus the daemon's
/// own settings. Plain data; config/synguard.yaml documents every key and its default.
struct DaemonConfig {
  engine::EngineConfig engine;
  std::uint16_t queues = 0;  ///< 0: one per online CPU
  std::uint16_t first_queue = 0;
  bool local_mode = false;  ///< rules.mode: gateway (false) or local
  std::string table = "synguard";
  bool bypass_established = true;
  std::string key_file = "/var/lib/synguard/cookie.key";
  std::string user;  ///< drop to this user after setup ("" = stay)
  bool metrics_enabled = true;
  std::string metrics_listen = "127.0.0.1:9815";
  std::string log_level = "info";
  double log_per_second = 10;
  std::uint32_t log_burst = 50;
  double stats_interval_seconds = 0;
};

/// The built-in defaults (no file, or an empty one): every engine default, and one adaptive
/// service `all` covering every IPv4 and IPv6 destination and port.
DaemonConfig defaultConfig();

}  // namespace synguard::config
