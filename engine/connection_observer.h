#pragma once

#include <cstddef>

#include "engine/packet/flow_key.h"
#include "engine/protect/adaptive_mode.h"
#include "engine/stats.h"
#include "engine/track/connection.h"

namespace synguard::engine {

/// A proxied connection whose translation the kernel's conntrack can take over (proxy.handoff):
/// both halves joined, window shifts equal on both sides (conntrack's seqadj shifts sequence
/// numbers and, with the synproxy extension, timestamps; it never rescales windows).
struct ProxyHandoff {
  FlowKey tuple;                    ///< client -> server (conntrack's original direction)
  std::uint32_t seq_offset = 0;     ///< cookie ISN - server ISN: added to the server's seq
  std::uint32_t cookie_isn = 0;     ///< our ISN towards the client (synproxy isn)
  std::uint32_t server_isn = 0;     ///< the server's ISN
  std::uint32_t ts_off = 0;         ///< client-visible TSval - server TSval (synproxy tsoff)
  std::uint32_t cookie_tsval = 0;   ///< TSval of our cookie SYN-ACK (synproxy its)
  bool timestamps = false;          ///< both sides use timestamps (ts_off applies)
  bool sack = false;                ///< SACK permitted on both sides
  std::uint8_t window_shift_c = 0;  ///< the client's window shift (= as the server reads it)
  std::uint8_t window_shift_s = 0;  ///< the server's window shift (= as the client reads it)
  std::uint32_t service = 0;        ///< configured service index
};

/// How a connection handed to conntrack came back to the engine or ended (the index of
/// EngineStats::proxy_handoff_ends).
enum class HandoffEnd : std::uint8_t {
  /// The engine translates it again: a FIN or RST of it reached the engine (the kernel's path
  /// is not in effect), or the kernel never took it (its entry could not be created).
  kTakenBack = 0,
  kClosed = 1,  ///< conntrack saw it close (TIME_WAIT): the engine keeps its own TIME-WAIT
  kGone = 2,    ///< conntrack destroyed it (a RST's CLOSE ran out, a timeout, a flush)
};

/// Told about every connection that leaves the table, before its slot is reused.
class ConnectionObserver {
 public:
  virtual ~ConnectionObserver() = default;
  virtual void onConnectionEnd(const Connection& c, EndCause cause) noexcept = 0;
  /// A service changed mode (adaptive protection), with the numbers that caused it.
  virtual void onModeChange(std::size_t /*service*/, const ModeChange& /*change*/) noexcept {}
  /// A proxied connection may be handed to the kernel (ProtectionConfig::proxy.handoff). The
  /// engine goes on translating whatever segments of it still reach it.
  virtual void onProxyHandoff(const ProxyHandoff& /*handoff*/) noexcept {}
  /// A FIN or RST of a handed-off connection reached the engine (its set element was not there
  /// yet, or ran out): the engine translates it again; the kernel's entry must go.
  virtual void onHandoffTakenBack(const FlowKey& /*tuple*/) noexcept {}
  /// A client SYN on a handed-off connection was dropped: if conntrack's entry is over (closed,
  /// reset, gone), the daemon answers with Engine::handoffEnded(kGone), so the client's retry
  /// starts a new connection.
  virtual void onHandedOffSyn(const FlowKey& /*tuple*/) noexcept {}
};

}  // namespace synguard::engine
