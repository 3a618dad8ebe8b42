#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/packet/ip_address.h"
#include "engine/protect/adaptive_mode.h"
#include "engine/protect/prefix_set.h"
#include "engine/protect/siphash.h"
#include "engine/protect/syn_cookie.h"
#include "engine/result.h"
#include "engine/track/rate_meter.h"

namespace synguard::engine {

struct PortRange {
  std::uint16_t first = 0;
  std::uint16_t last = 0;
};

/// Per-source limits for one service, applied per source prefix (HalfOpenConfig's /24 and /64
/// by default). 0 means no limit.
struct SourceLimits {
  std::uint32_t max_half_open = 0;  ///< half-open connections one source prefix may hold
  std::uint32_t syn_rate = 0;       ///< SYNs a second (token bucket refill)
  std::uint32_t syn_burst = 0;      ///< bucket size (0: same as syn_rate)
};

/// What the gateway learned about a service's TCP from its SYN-ACKs in normal mode (or set by
/// configuration): what cookie SYN-ACKs announce on its behalf.
struct ServerProfile {
  std::uint16_t mss = 0;  ///< 0: unknown (the address family's default is used)
  bool has_wscale = true;
  std::uint8_t wscale = 7;  ///< Linux's shift for its default 6 MiB rmem
  bool sack_permitted = true;
  bool timestamps = true;
  bool ecn = false;
  bool learned = false;  ///< from a real SYN-ACK (else the defaults above)
};

/// A protected service: destination prefixes and ports, and how to defend it.
/// What the kernel does with a SYN to the service when the daemon's queue is full (the engine
/// never sees those; daemon/inline/nft_rules.cc and the daemon's workers act on it).
enum class OverloadPolicy : std::uint8_t {
  kDropSyn,  ///< SYNs (and fragments) go to a SYN queue that drops on overflow in cookie mode
  kPass,     ///< they share the regular queue, which accepts on overflow (fail-open)
};

struct ServiceConfig {
  std::string name;
  PrefixSet addresses;
  std::vector<PortRange> ports;
  ProtectionMode mode = ProtectionMode::kAdaptive;
  AdaptiveThresholds thresholds;
  /// Compute and count every decision ("would drop", "would cookie") but accept every packet.
  bool monitor = false;
  SourceLimits per_source;
  std::optional<std::uint16_t> mss_override;
  std::optional<std::uint8_t> wscale_override;  ///< a value > 14 means "announce none"
  OverloadPolicy overload = OverloadPolicy::kDropSyn;
};

/// The proxy that completes the server's handshake for clients that returned a valid cookie.
struct ProxyConfig {
  std::size_t capacity = 65536;  ///< proxied connections at once (memory: see ProxyTable)
  /// Proxied connections one source prefix (HalfOpenConfig::source_prefix_v4/v6) may hold at
  /// once (0: no cap). A real address can complete handshakes, so only this keeps one from
  /// taking the whole proxy table. 1/16 of the default capacity: a large NAT's worth.
  std::size_t max_per_source = 4096;
  /// The ACK that completes the server's handshake is delayed by the client's RTT (measured from
  /// the cookie's timestamp) so the server does not learn a false, tiny RTT; at most this long.
  std::chrono::milliseconds max_ack_delay{200};
  /// Clients without timestamps: their RTT is unknown, this is used (0: ACK at once).
  std::chrono::milliseconds default_client_rtt{0};
  /// The server has not answered our SYN for this long: RST to the client.
  std::chrono::milliseconds server_timeout{std::chrono::seconds(5)};
  /// A client segment while the server is silent resends the SYN, at most this often.
  std::chrono::milliseconds syn_resend_interval{std::chrono::milliseconds(500)};
  /// Announce a zero window in cookie SYN-ACKs so clients send no data until the server's
  /// handshake is done (a window update then releases them). Off: data is buffered instead.
  bool hold_with_zero_window = true;
  /// Early client segments kept while the server's handshake completes (each up to 2 KiB).
  std::size_t early_segment_buffers = 4096;
  std::size_t early_segments_per_connection = 4;
};

struct ProtectionConfig {
  std::vector<ServiceConfig> services;
  PrefixSet allow;       ///< sources that skip cookies and per-source limits
  PrefixSet deny;        ///< sources whose segments to a service are dropped
  bool dry_run = false;  ///< every service in monitor mode
  SynCookies::Config cookies;
  /// The cookie keys are derived from the master key (Secrets, given to Engine::create) per
  /// rotation period, so gateways sharing the key file rotate together without talking; the
  /// previous period's key stays valid.
  std::chrono::seconds key_rotation{std::chrono::hours(1)};
  ProxyConfig proxy;
  /// While a service is in cookie mode, half-open connections to it that have waited this long
  /// for the client's ACK are reset at the server (a RST with the client's next sequence
  /// number), freeing the server's SYN queue from the flood's first SYNs — those that passed
  /// before the switch. A real client answers a SYN-ACK within one RTT. 0: never.
  std::chrono::milliseconds reap_half_open_after{std::chrono::seconds(1)};
  /// At most this many resets a millisecond (the work per expire() call stays bounded).
  std::size_t reap_per_tick = 256;
  std::uint16_t default_mss_v4 = 1460;
  std::uint16_t default_mss_v6 = 1440;
};

/// The key for rotation period `period`: SipHash-2-4 under the master key of the period number
/// (two domain-separated outputs). Deterministic, so gateways sharing the master agree.
SipKey deriveCookieKey(const SipKey& master, std::uint64_t period) noexcept;

/// Finds the service a destination belongs to. Services must not overlap (validated).
class ServiceMap {
 public:
  static constexpr std::uint32_t kNone = 0xffffffffU;
  static Result<ServiceMap> create(const std::vector<ServiceConfig>& services);
  std::uint32_t find(const IpAddress& dst, std::uint16_t port) const noexcept {
    for (std::uint32_t i = 0; i < entries_.size(); ++i) {
      const Entry& e = entries_[i];
      bool port_ok = false;
      for (const PortRange& r : e.ports) {
        if (port >= r.first && port <= r.last) {
          port_ok = true;
          break;
        }
      }
      if (port_ok && e.addresses.contains(dst)) {
        return i;
      }
    }
    return kNone;
  }
  std::size_t size() const noexcept { return entries_.size(); }

 private:
  struct Entry {
    PrefixSet addresses;
    std::vector<PortRange> ports;
  };
  std::vector<Entry> entries_;
};

/// Live state of one configured service.
struct ServiceRuntime {
  explicit ServiceRuntime(const AdaptiveMode& m) noexcept : mode(m) {}
  AdaptiveMode mode;
  std::uint32_t half_open = 0;
  std::uint32_t peak_half_open = 0;
  RateMeter syn_rate;
  ServerProfile profile;
  double client_rtt_us = 0;  ///< smoothed client RTT from cookie timestamps (for non-TS clients)
  std::uint64_t syns = 0;
  std::uint64_t cookies_sent = 0;
  std::uint64_t cookies_validated = 0;
  std::uint64_t cookies_rejected = 0;
  std::uint64_t proxied = 0;
  std::uint64_t mode_changes = 0;
  std::uint64_t would_cookie = 0;  ///< monitor: SYNs that would have been answered with a cookie
  std::uint64_t would_drop = 0;    ///< monitor: segments that would have been dropped
  /// Handshakes that completed: a tracked one reaching ESTABLISHED, or a cookie ACK validated.
  std::uint64_t handshakes_completed = 0;
  std::optional<ModeChange> last_change;
};

}  // namespace synguard::engine
