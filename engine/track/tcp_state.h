#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace synguard::engine {

/// RFC 9293 §3.3.2 connection states, as a middlebox infers them for ONE endpoint from the
/// segments it sees cross. kInvalid and kIgnore are sentinels used only in the transition table.
/// The real states come first and the sentinels after them: kTcpStateCount relies on it.
enum class TcpState : std::uint8_t {
  kClosed,
  kListen,
  kSynSent,
  kSynReceived,
  kEstablished,
  kFinWait1,
  kFinWait2,
  kCloseWait,
  kClosing,
  kLastAck,
  kTimeWait,
  // Sentinels (never stored in a connection):
  kInvalid,  ///< the segment is out of state for this endpoint: counted invalid, nothing changes
  kIgnore,   ///< plausible but not ours to act on (e.g. SYN on a synchronized connection, which the
             ///< endpoint answers with a challenge ACK, RFC 5961 §4): passes, nothing changes
};

/// A state's position in the enum: its column in kTransitions, its slot in per-state arrays
/// (EngineStats::connections_by_state) and its timer list. The one place that casts it.
constexpr std::size_t index(TcpState s) noexcept { return static_cast<std::size_t>(s); }

/// The number of real states: the sentinels follow them, so the first sentinel's index.
constexpr std::size_t kTcpStateCount = index(TcpState::kInvalid);

/// Every real state in index order, to walk per-state arrays without casting an index back.
inline constexpr std::array<TcpState, kTcpStateCount> kTcpStates = {
    TcpState::kClosed,      TcpState::kListen,   TcpState::kSynSent,  TcpState::kSynReceived,
    TcpState::kEstablished, TcpState::kFinWait1, TcpState::kFinWait2, TcpState::kCloseWait,
    TcpState::kClosing,     TcpState::kLastAck,  TcpState::kTimeWait,
};
static_assert(
    [] {
      for (std::size_t i = 0; i < kTcpStates.size(); ++i) {
        if (index(kTcpStates[i]) != i) {
          return false;
        }
      }
      return true;
    }(),
    "kTcpStates lists every real state once, in the enum's order");

/// What a segment means, classified by flags and the numeric guards (which run first).
enum class TcpEvent : std::uint8_t {
  kSyn,          ///< SYN without ACK
  kSynAck,       ///< SYN with ACK (its ack already checked to be ISS+1)
  kAck,          ///< ACK (data or not) that does not acknowledge the receiver's FIN
  kAckOfFin,     ///< ACK that acknowledges the receiver's FIN
  kFin,          ///< FIN whose ACK does not acknowledge the receiver's FIN
  kFinAckOfFin,  ///< FIN whose ACK also acknowledges the receiver's FIN
  kRst,          ///< an acceptable RST (exact match, RFC 5961 §3.2)
  kNone,         ///< no ACK, SYN, FIN or RST: never valid on a synchronized connection
                 ///< (keep it last: kTcpEventCount counts up to it)
};

/// An event's row in kTransitions.
constexpr std::size_t index(TcpEvent e) noexcept { return static_cast<std::size_t>(e); }
constexpr std::size_t kTcpEventCount = index(TcpEvent::kNone) + 1;

/// The endpoint a segment's transition is looked up for: the one that sent it or the one it is
/// travelling to. Each segment moves both (a middlebox assumes the segment arrives).
enum class Role : std::uint8_t { kSender, kReceiver };
/// A role's table in kTransitions.
constexpr std::size_t index(Role r) noexcept { return static_cast<std::size_t>(r); }
constexpr std::size_t kRoleCount = index(Role::kReceiver) + 1;

std::string_view toString(TcpState s) noexcept;
std::string_view toString(TcpEvent e) noexcept;

/// The connection-level state a middlebox reports and times out on, derived from the two
/// endpoint states (see connectionState()). Its values are TcpStates.
TcpState connectionState(TcpState orig, TcpState resp) noexcept;

/// Half-open (RFC 4987 §2): SYN seen, handshake not complete.
bool isHalfOpen(TcpState s) noexcept;
/// One side has started closing, or the connection is closed or in TIME-WAIT.
bool isClosing(TcpState s) noexcept;
/// A state that may be stored (not a sentinel).
bool isRealState(TcpState s) noexcept;

/// The explicit (role, event, state) -> state table (kTransitions in tcp_state.cc).
TcpState nextState(Role role, TcpEvent event, TcpState current) noexcept;

}  // namespace synguard::engine
