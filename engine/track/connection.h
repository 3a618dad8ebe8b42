#pragma once

#include <cstdint>

#include "engine/clock.h"
#include "engine/packet/flow_key.h"
#include "engine/packet/seq_num.h"
#include "engine/track/tcp_state.h"

namespace synguard::engine {

/// Observations that feed the connection's outcome code (Zeek conn_state vocabulary).
enum class Observed : std::uint8_t {
  kInactive,         ///< nothing seen from this endpoint yet
  kPartial,          ///< seen mid-stream only (no SYN)
  kSynSent,          ///< sent a SYN
  kSynAckSent,       ///< the originator sent a SYN-ACK (first packet seen was a SYN-ACK)
  kEstablished,      ///< took part in a handshake
  kClosed,           ///< sent a FIN
  kReset,            ///< sent a RST
  kResetAfterClose,  ///< sent a RST after its FIN (normal termination if the peer then closes)
};

/// One endpoint as the middlebox sees it: its RFC 9293 state plus the sequence-window view in the
/// spirit of netfilter's tcp_in_window (struct ip_ct_tcp_state).
struct EndpointView {
  std::uint32_t end = 0;      ///< highest seq + len this endpoint has sent (its SND.NXT)
  std::uint32_t max_end = 0;  ///< highest seq it may send: peer's ack + peer's scaled window
  std::uint32_t max_win = 0;  ///< largest scaled window it has advertised (at least 1)
  std::uint32_t max_ack = 0;  ///< highest ack it has sent (its RCV.NXT as seen); kAckSent
  TcpState state = TcpState::kClosed;
  std::uint8_t wscale = 0;  ///< window scale it offered (applied only if both sides offered)
  std::uint8_t flags = 0;   ///< EndpointFlag bits
  Observed observed = Observed::kInactive;

  bool has(std::uint8_t f) const noexcept { return (flags & f) != 0; }
};

enum EndpointFlag : std::uint8_t {
  kEpWscaleOk = 0x01,    ///< window scaling in effect for this endpoint's windows
  kEpSackPerm = 0x02,    ///< offered SACK-permitted
  kEpFinSent = 0x04,     ///< has sent a FIN (it sits at end - 1)
  kEpAckSent = 0x08,     ///< max_ack is valid
  kEpSeen = 0x10,        ///< has sent at least one segment (window state initialised)
  kEpDataSent = 0x20,    ///< has sent payload
  kEpRstOs0Ok = 0x40,    ///< orig: only SYNs/data since its first SYN (Zeek RSTOS0 history)
  kEpTimestamps = 0x80,  ///< offered timestamps
};

enum ConnFlag : std::uint8_t {
  kConnHalfOpenCounted = 0x01,  ///< counted in the half-open counters
  kConnSynSeen = 0x02,          ///< created by (or has seen) the originator's SYN
  kConnPickedUp = 0x04,         ///< picked up mid-stream: window checks are liberal
  kConnWindowLiberal = 0x08,    ///< skip sequence-window checks (pickup; see window.h)
  kConnProxied = 0x10,  ///< proxied after a valid cookie: proxyEntry() is its ProxyTable entry
  /// The kernel lets this connection's plain ACK/data segments bypass the queue (its verdict
  /// carried Verdict::bypass); SYN, FIN and RST segments still reach us, and a FIN or RST ends
  /// the bypass in the kernel too.
  kConnBypassed = 0x20,
  /// The originator's / responder's segments were skipped: re-seed its window view from its
  /// next segment before judging it (liberally, as a pickup).
  kConnResyncOrig = 0x40,
  kConnResyncResp = 0x80,
};

constexpr std::uint32_t kNoIndex = 0xffffffffU;

/// Connection::in_use bits: the slot is taken, and (conntrack's IPS_ASSURED) the other side has
/// answered consistently. Every entry starts unassured: a handshake seen to complete, a picked-up
/// connection's responder answering what its originator sent, or a valid cookie (proxied)
/// assures it. Unassured entries time out quickly and are evicted first (see Tracker::allocate).
enum SlotFlag : std::uint8_t {
  kSlotInUse = 0x01,
  kSlotAssured = 0x02,
};

/// A tracked connection. Packed to keep a table slot, overhead included, at or under 128 bytes
/// (checked by connection_table_test).
struct Connection {
  FlowKey key;                    // 36
  EndpointView ep[2];             // 40: [0] originator, [1] responder
  std::uint32_t last_seen;        // 4: engine ticks (ms, wrapping) of the last packet
  std::int64_t first_seen_ns;     // 8: absolute engine time of the first packet
  std::uint32_t pkts[2];          // 8
  std::uint32_t lru_prev;         // 4: neighbours in its timer list
  std::uint32_t lru_next;         // 4
  std::uint32_t hash_next;        // 4: next slot in the same bucket (free-list link when free)
  std::uint32_t service_idx;      // 4: HalfOpen service entry holding a reference, or kNoIndex
  std::uint32_t source_or_proxy;  // 4: halfOpenSource() or proxyEntry(), by the flags
  TcpState state;                 // 1: connectionState(ep[0].state, ep[1].state)
  std::uint8_t flags;             // 1: ConnFlag bits
  std::uint8_t list;              // 1: which timer list it is on (a TcpState), or kNoList
  std::uint8_t in_use;            // 1: SlotFlag bits; 0 when the slot is free

  bool assured() const noexcept { return (in_use & kSlotAssured) != 0; }

  // One word, two meanings: a connection is never half-open counted and proxied at once (the
  // proxy starts from a cookie, which holds no half-open state), so the HalfOpen source
  // reference and the ProxyTable entry share `source_or_proxy` and a slot stays within 128
  // bytes. Name the one the flags say is there.

  /// With kConnHalfOpenCounted: the HalfOpen source entry it holds a reference on; otherwise
  /// kNoIndex (or, when proxied, not a source at all).
  std::uint32_t halfOpenSource() const noexcept { return source_or_proxy; }
  void setHalfOpenSource(std::uint32_t idx) noexcept { source_or_proxy = idx; }
  /// With kConnProxied: its ProxyTable entry.
  std::uint32_t proxyEntry() const noexcept { return source_or_proxy; }
  void setProxyEntry(std::uint32_t idx) noexcept { source_or_proxy = idx; }
};
// A table slot plus its two bucket words (ConnectionTable) within 128 bytes, two cache lines;
// connection_table_test measures the whole table.
static_assert(sizeof(Connection) + 2 * sizeof(std::uint32_t) <= 128);

}  // namespace synguard::engine
