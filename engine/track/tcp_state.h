#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace synguard::engine {

/// RFC 9293 §3.3.2 connection states, as a middlebox infers them for ONE endpoint from the
/// segments it sees cross. kInvalid and kIgnore are sentinels used only in the transition table.
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
constexpr std::size_t kTcpStateCount = 11;  // real states, kClosed..kTimeWait

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
};
constexpr std::size_t kTcpEventCount = 8;

/// The endpoint a segment's transition is looked up for: the one that sent it or the one it is
/// travelling to. Each segment moves both (a middlebox assumes the segment arrives).
enum class Role : std::uint8_t { kSender, kReceiver };

std::string_view toString(TcpState s) noexcept;
std::string_view toString(TcpEvent e) noexcept;

/// The connection-level state a middlebox reports and times out on, derived from the two
/// endpoint states (see connectionState()). Its values are TcpStates.
TcpState connectionState(TcpState orig, TcpState resp) noexcept;

/// Half-open (RFC 4987 §2): SYN seen, handshake not complete.
bool isHalfOpen(TcpState connection_state) noexcept;
/// One side has started closing, or the connection is closed or in TIME-WAIT.
bool isClosing(TcpState connection_state) noexcept;
/// A state that may be stored (not a sentinel).
bool isRealState(TcpState s) noexcept;

/// The explicit (role, event, state) -> state table (transition_table in tcp_state.cc).
TcpState nextState(Role role, TcpEvent event, TcpState current) noexcept;

}  // namespace synguard::engine
