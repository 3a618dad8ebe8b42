#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
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
  /// A proxied connection handed to conntrack (proxy.handoff) that conntrack destroyed.
  kConntrack,
  kCount,
};
constexpr std::size_t kEndCauseCount = static_cast<std::size_t>(EndCause::kCount);
std::string_view toString(EndCause c) noexcept;

/// Which entry made room for a newcomer (Tracker::allocate).
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
  /// Gauge: 1 while in emergency mode. A uint64_t like every other field, so the description
  /// below covers the whole struct (CounterDescription test).
  std::uint64_t emergency = 0;

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
  /// proxy.handoff: established proxied connections offered to the kernel, and those kept
  /// because their window shifts differ between the sides (conntrack cannot rescale).
  std::uint64_t proxy_handoff_offered = 0;
  std::uint64_t proxy_handoff_window_scale = 0;
  /// ... and how handed-off connections came back or ended: [0] taken back (a FIN or RST reached
  /// the engine), [1] closed (conntrack reached TIME_WAIT), [2] gone (conntrack destroyed it).
  std::array<std::uint64_t, 3> proxy_handoff_ends{};
  std::uint64_t translated[2]{};  ///< segments translated: [0] to server, [1] to client
  /// ICMP errors quoting TCP, by what became of them (IcmpOutcome).
  std::array<std::uint64_t, kIcmpOutcomeCount> icmp{};
  std::uint64_t learned_profiles = 0;  ///< server SYN-ACKs that updated a service profile
  std::uint64_t half_open_reaped = 0;  ///< stale half-open connections reset at the server
};

/// Whether a figure only grows (a Prometheus counter) or goes up and down (a gauge).
enum class CounterKind : std::uint8_t { kCounter, kGauge };

/// How the figures of several engines (the daemon's workers, one engine each) make one.
enum class Combine : std::uint8_t {
  kSum,  ///< each engine counts its share of the traffic
  kMax,  ///< every engine counts the same events (key rotations follow the one wall clock)
};

/// Names one index of an array counter. An empty name is an index never counted (an enum's
/// kNone): every output leaves it out.
using IndexName = std::string_view (*)(std::size_t index) noexcept;

/// The name of index `i` of a counter array indexed by `Enum` (its toString()).
template <typename Enum>
std::string_view enumName(std::size_t i) noexcept {
  return toString(static_cast<Enum>(i));
}
/// The same for an enum whose first value is kNone, which is never counted.
template <typename Enum>
std::string_view enumNameAfterNone(std::size_t i) noexcept {
  return i == 0 ? std::string_view{} : toString(static_cast<Enum>(i));
}
std::string_view translatedName(std::size_t i) noexcept;  ///< EngineStats::translated
std::string_view handoffEndName(std::size_t i) noexcept;  ///< EngineStats::proxy_handoff_ends

/// One EngineStats field, described once for everything that shows the engine's counters: the
/// daemon's sums over its workers and its metrics, `synguard status`, the replay report.
struct CounterInfo {
  std::string_view field{};  ///< the member's name; the replay report's key
  /// The Prometheus family (docs/METRICS.md). Empty: not exported from here (the replay report
  /// still shows it); the daemon exports some of those itself (see daemon/inline/metrics.cc).
  std::string_view metric{};
  std::string_view help{};  ///< the family's help text
  CounterKind kind = CounterKind::kCounter;
  std::string_view label{};        ///< arrays: the label that names the index
  IndexName index_name = nullptr;  ///< arrays: the label's values; null for a single figure
  Combine combine = Combine::kSum;
};

namespace stats_detail {
template <typename T>
constexpr std::span<T> values(T& v) noexcept {
  return std::span<T>(&v, 1);
}
template <typename T, std::size_t N>
constexpr std::span<T> values(std::array<T, N>& a) noexcept {
  return std::span<T>(a);
}
template <typename T, std::size_t N>
constexpr std::span<const T> values(const std::array<T, N>& a) noexcept {
  return std::span<const T>(a);
}
template <typename T, std::size_t N>
constexpr std::span<T> values(T (&a)[N]) noexcept {  // NOLINT(*-avoid-c-arrays): translated[2]
  return std::span<T>(a);
}
}  // namespace stats_detail

/// Calls `visit(const CounterInfo&, std::span<V> values)` for every field of `s` (an EngineStats,
/// const or not; V is std::uint64_t or const std::uint64_t), in declaration order: a single
/// figure is a span of one. The one place a counter is described: adding a field to EngineStats
/// means adding its line here (kCounterValues and the CounterDescription test fail otherwise),
/// and the daemon's sums, metrics and status and the replay report follow.
template <typename Stats, typename Visitor>
constexpr void forEachCounter(Stats& s, Visitor&& visit) {
  using stats_detail::values;
  constexpr auto kGauge = CounterKind::kGauge;
  visit(CounterInfo{.field = "packets", .help = "IP packets given to the engine"},
        values(s.packets));
  visit(CounterInfo{.field = "bytes", .help = "Bytes of those packets"}, values(s.bytes));
  visit(CounterInfo{.field = "tcp_segments", .help = "Packets parsed as TCP segments"},
        values(s.tcp_segments));
  visit(CounterInfo{.field = "parse_errors",
                    .metric = "synguard_parse_errors_total",
                    .help = "Packets that could not be parsed or are not tracked, by reason",
                    .label = "reason",
                    .index_name = enumNameAfterNone<ParseError>},
        values(s.parse_errors));
  // Verdicts: one family for both arrays (label `verdict`), exported in daemon/inline/metrics.cc.
  visit(CounterInfo{.field = "accepted",
                    .help = "Packets accepted, by reason",
                    .label = "reason",
                    .index_name = enumName<VerdictReason>},
        values(s.accepted));
  visit(CounterInfo{.field = "dropped",
                    .help = "Packets dropped, by reason",
                    .label = "reason",
                    .index_name = enumName<VerdictReason>},
        values(s.dropped));
  visit(CounterInfo{.field = "invalid",
                    .metric = "synguard_invalid_segments_total",
                    .help = "Segments the tracker judged invalid, by reason",
                    .label = "reason",
                    .index_name = enumName<InvalidReason>},
        values(s.invalid));
  visit(CounterInfo{.field = "rst_in_window", .help = "In-window RSTs that were not exact"},
        values(s.rst_in_window));
  visit(CounterInfo{.field = "syn_on_synchronized", .help = "SYNs on synchronized connections"},
        values(s.syn_on_synchronized));
  visit(CounterInfo{.field = "zero_ip_length", .help = "IPv4 total length 0 accepted (TSO)"},
        values(s.zero_ip_length));
  visit(CounterInfo{.field = "snaplen_truncated", .help = "Payloads cut by the capture"},
        values(s.snaplen_truncated));
  visit(CounterInfo{.field = "first_fragments",
                    .metric = "synguard_first_fragments_total",
                    .help = "First IP fragments holding the whole TCP header, classified as the "
                            "segment they carry"},
        values(s.first_fragments));
  visit(CounterInfo{.field = "connections_created", .help = "Connections created"},
        values(s.connections_created));
  visit(CounterInfo{.field = "connections_picked_up", .help = "Connections created mid-stream"},
        values(s.connections_picked_up));
  visit(CounterInfo{.field = "connections_reopened", .help = "Connections reopened by a SYN"},
        values(s.connections_reopened));
  visit(CounterInfo{.field = "bypass_started",
                    .metric = "synguard_bypassed_connections_total",
                    .help = "Connections handed to the kernel's queue bypass"},
        values(s.bypass_started));
  visit(CounterInfo{.field = "reconfigurations", .help = "Successful reconfigurations"},
        values(s.reconfigurations));
  visit(CounterInfo{.field = "table_full", .help = "New connections that found no slot"},
        values(s.table_full));
  visit(CounterInfo{.field = "connections_ended",
                    .metric = "synguard_connections_ended_total",
                    .help = "Connections that left the table, by cause",
                    .label = "cause",
                    .index_name = enumName<EndCause>},
        values(s.connections_ended));
  // The daemon writes the state in lower case (toString(TcpState) is upper case).
  visit(CounterInfo{.field = "connections_by_state",
                    .metric = "synguard_connections",
                    .help = "Tracked connections by TCP state",
                    .kind = kGauge,
                    .label = "state",
                    .index_name = enumName<TcpState>},
        values(s.connections_by_state));
  visit(CounterInfo{.field = "table_peak", .help = "Most entries in the table", .kind = kGauge},
        values(s.table_peak));
  visit(CounterInfo{.field = "handshakes_completed", .help = "Three-way handshakes completed"},
        values(s.handshakes_completed));
  visit(CounterInfo{.field = "unassured",
                    .metric = "synguard_connections_unassured",
                    .help = "Entries not yet assured (no consistent answer from the other side)",
                    .kind = kGauge},
        values(s.unassured));
  visit(CounterInfo{.field = "connections_assured",
                    .metric = "synguard_connections_assured_total",
                    .help = "Entries that became assured"},
        values(s.connections_assured));
  visit(CounterInfo{.field = "evictions",
                    .metric = "synguard_table_evictions_by_kind_total",
                    .help = "Connections evicted to make room, by what gave way",
                    .label = "kind",
                    .index_name = enumName<EvictKind>},
        values(s.evictions));
  visit(CounterInfo{.field = "source_limit_overflow",
                    .metric = "synguard_source_limit_overflow_total",
                    .help = "Per-source limits skipped: the source shares the accounting's "
                            "overflow counter"},
        values(s.source_limit_overflow));
  visit(CounterInfo{.field = "emergency_entered", .help = "Times emergency mode was entered"},
        values(s.emergency_entered));
  visit(CounterInfo{.field = "emergency", .help = "1 while in emergency mode", .kind = kGauge},
        values(s.emergency));
  // Per service in the daemon (synguard_cookies_sent_total and _validated_total{service}).
  visit(CounterInfo{.field = "cookies_sent", .help = "SYN-ACKs with a SYN cookie sent"},
        values(s.cookies_sent));
  visit(CounterInfo{.field = "cookies_validated", .help = "ACKs whose SYN cookie was valid"},
        values(s.cookies_validated));
  visit(CounterInfo{.field = "cookies_rejected",
                    .metric = "synguard_cookies_rejected_total",
                    .help = "ACKs whose SYN cookie was not valid",
                    .label = "reason",
                    .index_name = enumNameAfterNone<CookieReject>},
        values(s.cookies_rejected));
  visit(CounterInfo{.field = "key_rotations",
                    .metric = "synguard_cookie_key_rotations_total",
                    .help = "Cookie key periods entered since start (wall-clock driven: a "
                            "stepped clock shows here)",
                    .combine = Combine::kMax},
        values(s.key_rotations));
  // Per service in the daemon (synguard_service_mode_transitions_total{service}).
  visit(CounterInfo{.field = "mode_changes", .help = "Service mode changes"},
        values(s.mode_changes));
  visit(CounterInfo{.field = "would_drop",
                    .metric = "synguard_would_drop_total",
                    .help = "Monitor mode: segments that would have been dropped, by reason (they "
                            "passed)",
                    .label = "reason",
                    .index_name = enumName<VerdictReason>},
        values(s.would_drop));
  // Per service in the daemon (synguard_service_would_cookie_total{service}).
  visit(CounterInfo{.field = "would_cookie",
                    .help = "Monitor mode: SYNs that would have been answered with a cookie"},
        values(s.would_cookie));
  visit(CounterInfo{.field = "proxied_total", .help = "Valid cookie ACKs that started a proxy"},
        values(s.proxied_total));
  visit(CounterInfo{.field = "proxy_completed",
                    .metric = "synguard_proxied_connections_total",
                    .help = "Connections whose server handshake the proxy completed"},
        values(s.proxy_completed));
  // Exported by the daemon with its own outcomes (synguard_proxy_handoffs_total{result}).
  visit(CounterInfo{.field = "proxy_handoff_offered",
                    .help = "Established proxied connections offered to the kernel (handoff)"},
        values(s.proxy_handoff_offered));
  visit(CounterInfo{.field = "proxy_handoff_window_scale",
                    .help = "Proxied connections kept in user space: window shifts differ"},
        values(s.proxy_handoff_window_scale));
  visit(CounterInfo{.field = "proxy_handoff_ends",
                    .metric = "synguard_proxy_handoff_ends_total",
                    .help = "Connections handed to conntrack, by how the engine learned they "
                            "were over or took them back",
                    .label = "how",
                    .index_name = handoffEndName},
        values(s.proxy_handoff_ends));
  visit(CounterInfo{.field = "proxy_refused",
                    .metric = "synguard_proxy_refused_total",
                    .help = "Proxied connections the server refused (a RST to our SYN)"},
        values(s.proxy_refused));
  visit(CounterInfo{.field = "proxy_server_timeout",
                    .metric = "synguard_proxy_server_timeouts_total",
                    .help = "Proxied connections whose server never answered (RST to the client)"},
        values(s.proxy_server_timeout));
  visit(CounterInfo{.field = "proxy_syn_resent",
                    .metric = "synguard_proxy_syns_resent_total",
                    .help = "SYNs to the server sent again by the proxy"},
        values(s.proxy_syn_resent));
  visit(CounterInfo{.field = "proxy_duplicate_acks",
                    .metric = "synguard_proxy_duplicate_acks_total",
                    .help = "Client retransmissions during the proxy's server handshake"},
        values(s.proxy_duplicate_acks));
  visit(CounterInfo{.field = "proxy_ack_delayed",
                    .metric = "synguard_proxy_acks_delayed_total",
                    .help = "Server ACKs the proxy delayed by the client's RTT"},
        values(s.proxy_ack_delayed));
  visit(CounterInfo{.field = "proxy_early_kept",
                    .metric = "synguard_proxy_early_segments_kept_total",
                    .help = "Client segments kept for the server during its handshake"},
        values(s.proxy_early_kept));
  visit(CounterInfo{.field = "proxy_early_dropped",
                    .metric = "synguard_proxy_early_segments_dropped_total",
                    .help = "Client segments dropped during the server handshake (no room)"},
        values(s.proxy_early_dropped));
  visit(CounterInfo{.field = "proxy_client_aborted",
                    .metric = "synguard_proxy_client_aborts_total",
                    .help = "Clients that reset during the proxy's server handshake"},
        values(s.proxy_client_aborted));
  visit(CounterInfo{.field = "proxy_rst_ignored",
                    .metric = "synguard_proxy_rsts_ignored_total",
                    .help = "RSTs during the server handshake not at the client's next sequence "
                            "number, ignored"},
        values(s.proxy_rst_ignored));
  visit(CounterInfo{.field = "translated",
                    .metric = "synguard_proxy_translated_segments_total",
                    .help = "Segments of proxied connections translated, by direction",
                    .label = "direction",
                    .index_name = translatedName},
        values(s.translated));
  visit(CounterInfo{.field = "icmp",
                    .metric = "synguard_icmp_errors_total",
                    .help = "ICMP errors quoting TCP, by what became of them",
                    .label = "outcome",
                    .index_name = enumName<IcmpOutcome>},
        values(s.icmp));
  visit(CounterInfo{.field = "learned_profiles",
                    .help = "Server SYN-ACKs that updated a service profile"},
        values(s.learned_profiles));
  visit(CounterInfo{.field = "half_open_reaped",
                    .help = "Stale half-open connections reset at the server"},
        values(s.half_open_reaped));
}

/// How many values forEachCounter visits (arrays count each element).
constexpr std::size_t counterValueCount() noexcept {
  EngineStats s;
  std::size_t n = 0;
  forEachCounter(s, [&n](const CounterInfo&, std::span<std::uint64_t> v) { n += v.size(); });
  return n;
}
/// Every EngineStats field is a std::uint64_t (or an array of them) and is described: a field
/// added without its line in forEachCounter fails here. The CounterDescription test checks
/// further that each is visited exactly once.
static_assert(sizeof(EngineStats) == counterValueCount() * sizeof(std::uint64_t),
              "a field of EngineStats is missing from forEachCounter");

}  // namespace synguard::engine
