#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace synguard::config {

/// Where a service's own segments (source = its addresses and ports) may arrive from: the
/// anti-spoofing check of docs/DAEMON.md, rendered as a drop rule before the queue.
struct ServiceSide {
  bool check = true;  ///< services[].anti_spoofing: auto (true) or off
  /// services[].server_interfaces: the only interfaces its segments may arrive on; empty: the
  /// interfaces the kernel routes its addresses through (strict reverse-path lookup, live).
  std::vector<std::string> server_interfaces{};
  bool operator==(const ServiceSide&) const = default;
};

/// Interfaces the XDP program can count apart (SG_XDP_MAX_IFACES in daemon/inline/xdp/xdp_abi.h).
inline constexpr std::size_t kMaxXdpInterfaces = 32;

/// How the XDP fast path attaches (xdp.mode; docs/DAEMON.md, "XDP fast path").
enum class XdpMode : std::uint8_t {
  kAuto,     ///< native (driver) mode where the driver has it, else generic
  kNative,   ///< driver mode only: an interface whose driver cannot is a start error
  kGeneric,  ///< generic (skb) mode: every driver, a smaller gain
  kOff,      ///< no XDP, whatever the interfaces
};

/// The XDP fast path: SYNs to services in cookie mode answered before the kernel builds a packet.
struct XdpConfig {
  std::vector<std::string> interfaces{};  ///< xdp.interfaces: client-facing; empty: no XDP
  XdpMode mode = XdpMode::kAuto;          ///< xdp.mode
  /// Whether XDP is on at all: some interface and a mode other than off.
  bool enabled() const noexcept { return mode != XdpMode::kOff && !interfaces.empty(); }
  bool operator==(const XdpConfig&) const = default;
};

/// xdp.mode as the file spells it: auto, native, generic or off.
const char* toString(XdpMode m) noexcept;

/// Everything `/etc/synguard/synguard.yaml` sets: the engine's configuration plus the daemon's
/// own settings. Plain data; config/synguard.yaml documents every key and its default, and
/// docs/CONFIG.md maps each key to its field.
struct DaemonConfig {
  engine::EngineConfig engine;         ///< services, thresholds, timeouts, cookies, proxy
  std::uint16_t queues = 0;            ///< queues.count; 0: one per online CPU
  std::uint16_t first_queue = 0;       ///< queues.first
  bool local_mode = false;             ///< rules.mode: gateway (false) or local (true)
  std::string nft_table = "synguard";  ///< rules.nft_table: the nftables table (family inet)
  bool bypass_established = true;      ///< rules.bypass_established
  bool anti_spoofing = true;           ///< rules.anti_spoofing: auto (true) or off (every service)
  /// Per service name, what differs from the default ServiceSide (absent: check by the routes).
  std::map<std::string, ServiceSide> service_sides;
  std::string key_file = "/var/lib/synguard/cookie.key";  ///< cookies.key_file
  XdpConfig xdp;                                          ///< xdp
  std::string user;  ///< drop to this user after setup ("" = stay)
  bool metrics_enabled = true;
  std::string metrics_listen = "127.0.0.1:9815";  ///< ADDRESS:PORT
  std::string log_level = "info";                 ///< error, warning, notice, info or debug
  double log_per_second = 10;                     ///< logging.rate_limit.per_second
  std::uint32_t log_burst = 50;                   ///< logging.rate_limit.burst
  double stats_interval_seconds = 0;              ///< stats_interval; 0: no "stats:" lines
  /// The file (or the name given to loadConfigString) this was loaded from; "" for the
  /// built-in defaults. For log lines, not part of the configuration proper.
  std::string source_path;
};

/// The built-in defaults (no file at all): every engine default, and one adaptive service
/// `all` covering every IPv4 and IPv6 destination and port. A file's `services:` replaces it.
DaemonConfig defaultConfig();

}  // namespace synguard::config
