#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/limits.h"
#include "engine/packet/flow_key.h"
#include "engine/packet/seq_num.h"
#include "engine/protect/siphash.h"

namespace synguard::engine {

/// The MSS values a cookie can carry: 3 bits of the cookie index this table (up to 8 entries,
/// ascending). The defaults cover real paths: 536 (RFC 1122 minimum), 1300 (tunnels/VPNs),
/// 1440 (PPPoE and similar), 1460 (Ethernet) for IPv4; 1220 (IPv6 minimum MTU 1280 less 60),
/// 1420, 1440 (Ethernet), 8940 (jumbo) for IPv6.
struct MssTable {
  std::array<std::uint16_t, kMaxMssValues> values{};
  std::uint8_t size = 0;

  static MssTable defaultV4() noexcept { return MssTable{{536, 1300, 1440, 1460}, 4}; }
  static MssTable defaultV6() noexcept { return MssTable{{1220, 1420, 1440, 8940}, 4}; }
  /// The largest entry not above the client's MSS (the smallest entry if all are above it):
  /// a cookie connection never sends segments larger than the client announced.
  std::uint8_t indexFor(std::uint16_t client_mss) const noexcept;
};

/// The secret keys: the current one and, after a rotation, the previous one (still accepted so
/// cookies handed out just before the rotation validate). Gateways behind ECMP share them.
struct CookieKeys {
  SipKey current;
  SipKey previous;
  bool has_previous = false;
};

enum class CookieReject : std::uint8_t {
  kNone,
  kStale,        ///< its time counter is outside the accepted age (too old, or from the future)
  kBadMssIndex,  ///< its MSS index is past the table
  kBadHash,      ///< the hash matches neither key: forged, or for another tuple or client ISN
  kCount,
};
std::string_view toString(CookieReject r) noexcept;

/// Stateless SYN cookies in the well-studied layout (D. J. Bernstein; Linux syncookies.c):
///
///    31      27 26  24 23                                              0
///   +----------+------+-------------------------------------------------+
///   | t mod 32 | mss  |  SipHash-2-4(key; addrs, ports, t, client ISN,   |
///   |  5 bits  | idx  |              mss idx) low 24 bits               |
///   +----------+------+-------------------------------------------------+
///
/// t counts `window`s (default 64 s) of *cookie time*, a clock every gateway sharing the key
/// agrees on (the daemon passes wall-clock seconds; the engine's monotonic clock would differ
/// between machines). A cookie is accepted while t is within `max_age_windows` of now (default
/// 1: the current and the previous window). Pure: no state per SYN.
class SynCookies {
 public:
  struct Config {
    std::chrono::seconds window{64};
    std::uint32_t max_age_windows = 1;  ///< at most kMaxCookieAgeWindows (5 bits of t)
    MssTable v4 = MssTable::defaultV4();
    MssTable v6 = MssTable::defaultV6();
  };

  SynCookies(const Config& cfg, const CookieKeys& keys) noexcept : cfg_(cfg), keys_(keys) {}
  void setKeys(const CookieKeys& keys) noexcept { keys_ = keys; }
  /// Rotation: the current key becomes the previous one.
  void rotate(const SipKey& next) noexcept { keys_ = CookieKeys{next, keys_.current, true}; }

  struct Made {
    SeqNum isn;         ///< our ISN for the SYN-ACK
    std::uint16_t mss;  ///< the MSS it encodes (to announce in the SYN-ACK)
  };
  /// The cookie for a client's SYN. `tuple` is client -> server as the SYN travelled.
  Made make(const FlowKey& tuple, SeqNum client_isn, std::uint16_t client_mss,
            std::chrono::seconds cookie_time) const noexcept {
    return make(tuple, client_isn, client_mss, counterOf(cookie_time));
  }
  /// The same with the time counter precomputed (it changes once a window: callers on the
  /// packet path compute it once a second, not per SYN).
  Made make(const FlowKey& tuple, SeqNum client_isn, std::uint16_t client_mss,
            std::uint32_t counter) const noexcept;
  std::uint32_t counterOf(std::chrono::seconds cookie_time) const noexcept {
    return static_cast<std::uint32_t>(cookie_time / cfg_.window);
  }

  struct Checked {
    CookieReject reject = CookieReject::kNone;
    std::uint16_t mss = 0;
  };
  /// Validates the client's ACK: `tuple` client -> server, `client_isn` = ACK.seq - 1,
  /// `cookie` = ACK.ack - 1.
  Checked check(const FlowKey& tuple, SeqNum client_isn, SeqNum cookie,
                std::chrono::seconds cookie_time) const noexcept {
    return check(tuple, client_isn, cookie, counterOf(cookie_time));
  }
  Checked check(const FlowKey& tuple, SeqNum client_isn, SeqNum cookie,
                std::uint32_t now_counter) const noexcept;

 private:
  std::uint32_t hash(const SipKey& key, const FlowKey& t, std::uint32_t counter, SeqNum isn,
                     std::uint32_t idx) const noexcept;
  const MssTable& table(const FlowKey& t) const noexcept {
    return t.orig_addr.isV4() ? cfg_.v4 : cfg_.v6;
  }

  Config cfg_;
  CookieKeys keys_;
};

/// SYN-ACK TSval encoding of what a client's SYN offered and what we answered, so nothing is
/// lost without per-SYN state (as Linux's cookie_init_timestamp, plus our own window scale,
/// which the proxy must know to translate windows). The client echoes it in its ACK's TSecr:
///
///     9       6 5   4   3        0
///    +---------+---+----+----------+
///    | our ws  |ECN|SACK| client ws|   (4-bit shifts, 0xF = none; above bit 9: the clock)
///    +---------+---+----+----------+
struct CookieTsOptions {
  bool has_wscale = false;
  std::uint8_t wscale = 0;
  bool sack_permitted = false;
  bool ecn = false;
  bool has_our_wscale = false;
  std::uint8_t our_wscale = 0;
};
/// Low bits of the TSval the encoding takes (the timestamp clock's resolution is 2^10 ticks).
constexpr std::uint32_t kCookieTsBits = 10;
/// Our TSval: `ts_now` with its low 10 bits replaced, never ahead of `ts_now`.
std::uint32_t encodeCookieTsval(std::uint32_t ts_now, const CookieTsOptions& o) noexcept;
CookieTsOptions decodeCookieTsecr(std::uint32_t tsecr) noexcept;

}  // namespace synguard::engine
