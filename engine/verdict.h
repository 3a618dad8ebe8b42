#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace synguard::engine {

enum class Action : std::uint8_t { kAccept, kDrop };

/// Why a packet got its verdict. Finer detail (which parse error, which invalid reason) is in
/// EngineStats.
enum class VerdictReason : std::uint8_t {
  kTracked,         ///< accept: a valid segment of a tracked connection
  kIgnored,         ///< accept: plausible but changes nothing (SYN on a synchronized connection,
                    ///< in-window RST left for the endpoint's challenge ACK, retransmissions)
  kInvalid,         ///< accept (tracking-only policy): out of window or out of state, counted
  kUntracked,       ///< accept: no table slot (full of established connections) or no pickup
  kNotTcp,          ///< accept: not TCP, nothing for the tracker
  kFragment,        ///< accept: IP fragment, counted, not reassembled; drop: a later TCP
                    ///< fragment to an address with a service in cookie mode
  kMalformed,       ///< drop: the packet does not parse (see ParseError)
  kCookieSent,      ///< drop: a SYN to a service in cookie mode, answered with a SYN cookie
  kCookieInvalid,   ///< drop: an ACK with no connection and no valid cookie, in cookie mode
  kNoConnection,    ///< drop: in cookie mode, a segment with no connection that cannot open one
                    ///< (RST, SYN-ACK, no ACK flag): floods of them never reach the server
  kDenied,          ///< drop: the source is on the deny list
  kSourceRate,      ///< drop: the source prefix exceeded its SYN rate for the service
  kSourceHalfOpen,  ///< drop: the source prefix holds its maximum of half-open connections
  kProxied,         ///< accept: a segment of a proxied connection, translated
  kProxyHandshake,  ///< drop: consumed by the proxy (the cookie ACK, the server's SYN-ACK)
  kProxyHeld,  ///< drop: client data kept (or, with no room, dropped) until the server is ready
  kProxyFull,  ///< drop: a valid cookie but no room for another proxied connection
  /// drop: a TCP fragment that hides or overlaps the TCP header (a tiny first fragment, an
  /// offset below 64 bytes) to a protected address, in every mode
  kFragmentUnsafe,
  /// drop: in cookie mode, a first fragment with no connection that is not a SYN (a cookie ACK
  /// is never taken from a fragment)
  kFragmentNoConnection,
  /// drop: a first fragment of a proxied connection (the proxy translates whole segments only)
  kFragmentProxied,
  /// drop: a segment with no connection whose source is a service in cookie mode (the server's
  /// side): whoever sent it, it must not create an entry a later SYN would find
  kServerSide,
  kProxySourceLimit,  ///< drop: a valid cookie, but its source prefix holds proxy.max_per_source
  /// drop: a SYN on a proxied connection handed to conntrack (proxy.handoff), or on one closing
  /// (a FIN seen): a new handshake on a live tuple, a forgery, or a port reused before the end
  /// reached us; never passed to the server unvalidated, nor translated into the old connection
  kProxiedSyn,
  kCount,
};
constexpr std::size_t kVerdictReasonCount = static_cast<std::size_t>(VerdictReason::kCount);

struct Verdict {
  Action action = Action::kAccept;
  VerdictReason reason = VerdictReason::kTracked;
  /// The packet was rewritten in place (proxied connections): pass the new bytes on.
  bool rewritten = false;
  /// Accepted segment of an established, untranslated connection (EngineConfig::
  /// bypass_established): the kernel may let the connection's plain ACK/data segments bypass
  /// the queue from now on. See docs/DAEMON.md ("Established traffic bypasses the queue").
  bool bypass = false;

  static constexpr Verdict accept(VerdictReason r) noexcept {
    return {Action::kAccept, r, false, false};
  }
  static constexpr Verdict drop(VerdictReason r) noexcept {
    return {Action::kDrop, r, false, false};
  }
  constexpr bool operator==(const Verdict&) const noexcept = default;
};

std::string_view toString(Action a) noexcept;
std::string_view toString(VerdictReason r) noexcept;

}  // namespace synguard::engine
