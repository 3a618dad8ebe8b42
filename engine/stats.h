#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/packet/segment.h"
#include "engine/protect/icmp.h"
#include "engine/protect/syn_cookie.h"
#include "engine/track/tcp_state.h"
#include "engine/verdict.h"

namespace synguard::engine {

/// Why a parsed segment was classified invalid for its connection.
enum class InvalidReason : std::uint8_t {
  kBadFlags,          ///< impossible flag combination (SYN+FIN, SYN+RST, FIN without ACK, none)
  kOutOfState,        ///< the transition table says kInvalid
  kSeqAboveWindow,    ///< seq beyond what the receiver advertised (tcp_in_window I)
  kSeqBelowWindow,    ///< segment ends before the sender's data minus the receiver's window (II)
  kAckAboveSent,      ///< acknowledges data the receiver never sent (III)
  kAckBelowWindow,    ///< acknowledgment far behind the receiver's data (IV)
  kDataAfterFin,      ///< data or a FIN beyond the sender's own FIN
  kSynAckBadAck,      ///< SYN-ACK whose ack is not the SYN's ISN+1 (RFC 9293 §3.10.7.3)
  kRstNotAcceptable,  ///< RST to SYN-SENT without ACK of our SYN
  kRstOutOfWindow,    ///< RST outside the receive window (RFC 5961 §3.2)
  kNoConnection,      ///< no connection and the segment cannot start one (stray RST, FIN, ...)
  kCount,
};
constexpr std::size_t kInvalidReasonCount = static_cast<std::size_t>(InvalidReason::kCount);
std::string_view toString(InvalidReason r) noexcept;

/// Why a connection left the table.
enum class EndCause : std::uint8_t {
  kTimeout,   ///< its state's timeout ran out
  kEvicted,   ///< the table was full and it was the oldest half-open or closing entry
  kReopened,  ///< a new SYN reused its tuple after TIME-WAIT/CLOSED
  kFlushed,   ///< still open when the engine was asked for everything (end of a capture)
  kAttempt,   ///< an unanswered attempt older than attempt_timeout (replay's analyst mode)
  kReaped,    ///< a stale half-open connection reset at the server in cookie mode
  /// An unassured entry that is no handshake of its own (a mid-stream pickup, a stray, an
  /// unanswered close) ended by a SYN on its tuple, which then starts a new connection: a
  /// spoofed pickup must neither let a SYN pass as tracked nor hide it from the SYN counters.
  kSuperseded,
  kCount,
};
constexpr std::size_t kEndCauseCount = static_cast<std::size_t>(EndCause::kCount);
std::string_view toString(EndCause c) noexcept;

/// Which entry made room for a newcomer (Engine::allocate).
enum class EvictKind : std::uint8_t {
  kUnassuredShare,  ///< unassured entries held their whole share: the oldest unassured one went
  kUnassured,       ///< the table was full: the oldest unassured entry went
  kClosing,         ///< the table was full, nothing unassured: the oldest closing entry went
  kCount,
};
constexpr std::size_t kEvictKindCount = static_cast<std::size_t>(EvictKind::kCount);
std::string_view toString(EvictKind k) noexcept;

/// Every counter the engine keeps. Plain integers, written by the one thread that owns the engine;
/// the daemon's exporter copies them out.
struct EngineStats {
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::uint64_t tcp_segments = 0;
  std::array<std::uint64_t, kParseErrorCount> parse_errors{};
  std::array<std::uint64_t, kVerdictReasonCount> accepted{};
  std::array<std::uint64_t, kVerdictReasonCount> dropped{};
  std::array<std::uint64_t, kInvalidReasonCount> invalid{};
  std::uint64_t rst_in_window = 0;        ///< suspicious: in-window, not exact (RFC 5961 §3.2)
  std::uint64_t syn_on_synchronized = 0;  ///< SYN on a synchronized connection (RFC 5961 §4)
  std::uint64_t zero_ip_length = 0;       ///< IPv4 total length 0 accepted (TSO capture)
  std::uint64_t snaplen_truncated = 0;    ///< headers complete, payload cut by the capture
  /// First fragments holding the whole TCP header, classified as the segment they carry.
  std::uint64_t first_fragments = 0;

  std::uint64_t connections_created = 0;
  std::uint64_t connections_picked_up = 0;  ///< created mid-stream (no handshake seen)
  std::uint64_t connections_reopened = 0;
  /// Connections whose plain segments the kernel was told it may let bypass the queue.
  std::uint64_t bypass_started = 0;
  std::uint64_t reconfigurations = 0;  ///< successful Engine::reconfigure calls
  std::uint64_t table_full = 0;        ///< a new connection found no slot
  std::array<std::uint64_t, kEndCauseCount> connections_ended{};
  std::array<std::uint64_t, kTcpStateCount> connections_by_state{};  ///< gauge
  std::uint64_t table_peak = 0;
  std::uint64_t handshakes_completed = 0;
  /// Entries not (yet) assured: gauge. Every entry starts unassured (Connection::assured).
  std::uint64_t unassured = 0;
  std::uint64_t connections_assured = 0;  ///< entries that became assured (proxied ones too)
  std::array<std::uint64_t, kEvictKindCount> evictions{};  ///< by kind; sum = ended[kEvicted]
  /// Per-source limits (SYN rate, half-open, proxied) skipped because the source shares the
  /// accounting's overflow entry (its table is full): they would limit everyone at once.
  std::uint64_t source_limit_overflow = 0;

  std::uint64_t emergency_entered = 0;
  bool emergency = false;

  // SYN cookies and the proxy (engine/protect/).
  std::uint64_t cookies_sent = 0;
  std::uint64_t cookies_validated = 0;
  std::array<std::uint64_t, static_cast<std::size_t>(CookieReject::kCount)> cookies_rejected{};
  std::uint64_t key_rotations = 0;
  std::uint64_t mode_changes = 0;
  /// Monitor mode (a service's `monitor` or the global dry run): what would have been dropped,
  /// by reason, and how many SYNs would have been answered with a cookie. Those packets passed.
  std::array<std::uint64_t, kVerdictReasonCount> would_drop{};
  std::uint64_t would_cookie = 0;
  std::uint64_t proxied_total = 0;
  std::uint64_t proxy_completed = 0;       ///< server handshakes completed
  std::uint64_t proxy_refused = 0;         ///< the server answered our SYN with a RST
  std::uint64_t proxy_server_timeout = 0;  ///< the server never answered: RST to the client
  std::uint64_t proxy_syn_resent = 0;
  std::uint64_t proxy_duplicate_acks = 0;  ///< client retransmissions during the server handshake
  std::uint64_t proxy_ack_delayed = 0;     ///< server ACKs delayed by the client's RTT
  std::uint64_t proxy_early_kept = 0;      ///< client segments kept for the server
  std::uint64_t proxy_early_dropped = 0;   ///< ... and dropped for want of room
  std::uint64_t proxy_client_aborted = 0;  ///< the client reset during the server handshake
  std::uint64_t proxy_rst_ignored = 0;     ///< RSTs not at the client's next sequence number then
  std::uint64_t translated[2]{};           ///< segments translated: [0] to server, [1] to client
  /// ICMP errors quoting TCP, by what became of them (IcmpOutcome).
  std::array<std::uint64_t, kIcmpOutcomeCount> icmp{};
  std::uint64_t learned_profiles = 0;  ///< server SYN-ACKs that updated a service profile
  std::uint64_t half_open_reaped = 0;  ///< stale half-open connections reset at the server
};

}  // namespace synguard::engine
