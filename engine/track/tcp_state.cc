#include "engine/track/tcp_state.h"

namespace synguard::engine {

namespace {

// Short names so each row of the table fits on one line, in the column order of TcpState.
constexpr TcpState sCL = TcpState::kClosed;
constexpr TcpState sLI = TcpState::kListen;
constexpr TcpState sSS = TcpState::kSynSent;
constexpr TcpState sSR = TcpState::kSynReceived;
constexpr TcpState sES = TcpState::kEstablished;
constexpr TcpState sF1 = TcpState::kFinWait1;
constexpr TcpState sF2 = TcpState::kFinWait2;
constexpr TcpState sCW = TcpState::kCloseWait;
constexpr TcpState sCG = TcpState::kClosing;
constexpr TcpState sLA = TcpState::kLastAck;
constexpr TcpState sTW = TcpState::kTimeWait;
constexpr TcpState sIV = TcpState::kInvalid;
constexpr TcpState sIG = TcpState::kIgnore;

using Row = std::array<TcpState, kTcpStateCount>;
using EventRows = std::array<Row, kTcpEventCount>;

// kTransitions[role][event][state]: the state an endpoint moves to when it sends (kSender) or
// receives (kReceiver) a segment classified as `event`, following RFC 9293 §3.10.7 and the
// state diagram of §3.3.2. Guards (sequence window, SYN-ACK ack == ISS+1, RST acceptability) have
// already run: an event reaching this table passed them. Written out cell by cell, as Linux
// conntrack's tcp_conntracks is; every cell is walked by tcp_state_test.
constexpr std::array<EventRows, kRoleCount> kTransitions = {{
    // ---------------------------------------------------------------- Role::kSender
    {{
        //        CL   LI   SS   SR   ES   F1   F2   CW   CG   LA   TW
        /*Syn*/ {sSS, sSS, sSS, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG},
        // CLOSED/LISTEN: active open. SYN-SENT: retransmission. SYN-RCVD: simultaneous open, our
        // SYN retransmitted. Synchronized: a SYN there is the endpoint's own business (reuse of
        // a TIME-WAIT/CLOSED tuple is handled before the table: Engine::processImpl ends the
        // old connection, EndCause::kReopened, and the SYN starts a new one).
        /*SynAck*/ {sIV, sSR, sIV, sSR, sES, sIG, sIG, sIG, sIG, sIG, sIG},
        // LISTEN: the answer to a SYN we did not see. SYN-SENT cannot send SYN-ACK before it has
        // received a SYN (then it is SYN-RCVD). SYN-RCVD: the answer or its retransmission.
        // ESTABLISHED: the SYN-ACKs of a simultaneous open cross, or the server retransmits its
        // SYN-ACK because the third segment was lost; the receiver's cell decides. Closing
        // states: a stray retransmission, harmless.
        /*Ack*/ {sIG, sIV, sIV, sSR, sES, sF1, sF2, sCW, sCG, sLA, sTW},
        // Nothing ACKs before it has received a SYN. FIN-WAIT-2 keeps ACKing the data the
        // CLOSE-WAIT side still sends (half-close); CLOSE-WAIT itself may still send data.
        // CLOSED: an endpoint we believe closed (its last ACK or a RST was lost) is still
        // talking; the receiver's cell decides whether that matters.
        /*AckOfFin*/ {sIG, sIV, sIV, sIV, sIV, sIV, sIV, sCW, sCG, sLA, sTW},
        // Only an endpoint that has received the peer's FIN can acknowledge it: CLOSE-WAIT (the
        // usual ACK of a FIN), CLOSING (simultaneous close), LAST-ACK and TIME-WAIT (re-ACK of a
        // retransmitted FIN, which is why TIME-WAIT lasts 2*MSL).
        /*Fin*/ {sIG, sIV, sIV, sF1, sF1, sF1, sF2, sCG, sCG, sLA, sTW},
        // Close from SYN-RCVD or ESTABLISHED enters FIN-WAIT-1. In CLOSE-WAIT a FIN that does
        // not ACK the peer's FIN was sent before that FIN arrived: the FINs crossed, so this
        // endpoint went FIN-WAIT-1 and then, on the peer's FIN, CLOSING (simultaneous close).
        // In FIN-WAIT-1/2, CLOSING, LAST-ACK and TIME-WAIT a FIN is a retransmission; from
        // CLOSED it is the retransmission of a LAST-ACK endpoint whose final ACK was lost
        // (the TIME-WAIT receiver answers it: that is what 2*MSL is for).
        /*FinAckOfFin*/ {sIG, sIV, sIV, sIV, sIV, sIV, sIV, sLA, sCG, sLA, sTW},
        // As Fin, for an endpoint that has received the peer's FIN (it ACKs it in the same
        // segment): CLOSE-WAIT -> LAST-ACK is the common FIN|ACK of a four-way close.
        /*Rst*/ {sCL, sLI, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL},
        // Sending an acceptable RST aborts the sender's connection (RFC 9293 §3.10.7). A LISTEN
        // endpoint that resets a stray segment stays listening.
        /*None*/ {sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV},
        // RFC 9293 §3.10.7.4 step 5: a segment without ACK is dropped in every synchronized
        // state, and without SYN it cannot open one.
    }},
    // ---------------------------------------------------------------- Role::kReceiver
    {{
        //        CL   LI   SS   SR   ES   F1   F2   CW   CG   LA   TW
        /*Syn*/ {sIG, sSR, sSR, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG},
        // LISTEN: the passive open (RFC 9293 §3.10.7.2). SYN-SENT: simultaneous open.
        // SYN-RCVD: retransmitted SYN. CLOSED: the host will reset it. Synchronized: challenge
        // ACK territory (RFC 5961 §4), left to the endpoint.
        /*SynAck*/ {sIG, sIG, sES, sES, sIG, sIG, sIG, sIG, sIG, sIG, sIG},
        // SYN-SENT -> ESTABLISHED is the client's side of the handshake; SYN-RCVD ->
        // ESTABLISHED is simultaneous open. Elsewhere a retransmitted or stray SYN-ACK.
        /*Ack*/ {sIG, sIG, sIG, sES, sES, sF1, sF2, sCW, sCG, sLA, sTW},
        // SYN-RCVD -> ESTABLISHED is the third segment of the handshake (it may carry data).
        // SYN-SENT: an ACK without SYN is dropped by the endpoint (§3.10.7.3). FIN-WAIT-2
        // receives the data of the half-closed peer.
        /*AckOfFin*/ {sIV, sIV, sIV, sIV, sIV, sF2, sF2, sIV, sTW, sCL, sTW},
        // Only an endpoint that sent a FIN can see it acknowledged: FIN-WAIT-1 -> FIN-WAIT-2,
        // CLOSING -> TIME-WAIT, LAST-ACK -> CLOSED. (Guards compute "acknowledges the FIN".)
        /*Fin*/ {sIG, sIG, sIG, sCW, sCW, sCG, sTW, sCW, sCG, sLA, sTW},
        // SYN-RCVD/ESTABLISHED -> CLOSE-WAIT. FIN-WAIT-1 -> CLOSING (simultaneous close).
        // FIN-WAIT-2 -> TIME-WAIT. Elsewhere a retransmitted FIN (TIME-WAIT re-arms 2*MSL).
        // SYN-SENT: a FIN without the SYN is dropped by the endpoint (§3.10.7.3).
        /*FinAckOfFin*/ {sIV, sIV, sIV, sIV, sIV, sTW, sTW, sIV, sTW, sCL, sTW},
        // FIN-WAIT-1 receiving FIN that also ACKs our FIN goes straight to TIME-WAIT; LAST-ACK
        // sees a retransmitted FIN that now ACKs ours.
        /*Rst*/ {sCL, sLI, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL},
        // An acceptable RST closes the receiver (LISTEN ignores RSTs). In SYN-RCVD a passive
        // endpoint returns to LISTEN; a middlebox only cares that this connection is gone.
        /*None*/ {sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV},
    }},
}};

}  // namespace

TcpState nextState(Role role, TcpEvent event, TcpState current) noexcept {
  if (!isRealState(current)) {
    return TcpState::kInvalid;
  }
  return kTransitions[index(role)][index(event)][index(current)];
}

bool isRealState(TcpState s) noexcept {
  switch (s) {
    case TcpState::kClosed:
    case TcpState::kListen:
    case TcpState::kSynSent:
    case TcpState::kSynReceived:
    case TcpState::kEstablished:
    case TcpState::kFinWait1:
    case TcpState::kFinWait2:
    case TcpState::kCloseWait:
    case TcpState::kClosing:
    case TcpState::kLastAck:
    case TcpState::kTimeWait:
      return true;
    case TcpState::kInvalid:
    case TcpState::kIgnore:
      return false;
  }
  return false;
}

namespace {
// Priority of an endpoint state when two are folded into the connection's state; higher wins.
// Handshake states first (the connection is half-open whatever else is true), then the close
// sequence from its least to its most settled point, so the connection carries the timeout of
// whatever it still waits for: (TIME-WAIT, LAST-ACK) waits for the last ACK (LAST-ACK, 30 s);
// (FIN-WAIT-2, CLOSE-WAIT) waits for the CLOSE-WAIT side's FIN (CLOSE-WAIT, as conntrack).
int foldPriority(TcpState s) noexcept {
  switch (s) {
    case TcpState::kSynSent:
      return 10;
    case TcpState::kSynReceived:
      return 9;
    case TcpState::kLastAck:
      return 8;
    case TcpState::kClosing:
      return 7;
    case TcpState::kFinWait1:
      return 6;
    case TcpState::kCloseWait:
      return 5;
    case TcpState::kFinWait2:
      return 4;
    case TcpState::kTimeWait:
      return 3;
    case TcpState::kEstablished:
      return 2;
    case TcpState::kListen:
      return 1;
    case TcpState::kClosed:
    case TcpState::kInvalid:
    case TcpState::kIgnore:
      return 0;
  }
  return 0;
}
}  // namespace

TcpState connectionState(TcpState orig, TcpState resp) noexcept {
  // A handshake in which the responder has answered (orig already ESTABLISHED from its view,
  // responder SYN-RCVD) is SYN-RCVD; before the answer (orig SYN-SENT) it is SYN-SENT.
  return foldPriority(orig) >= foldPriority(resp) ? orig : resp;
}

bool isHalfOpen(TcpState s) noexcept {
  switch (s) {
    case TcpState::kSynSent:
    case TcpState::kSynReceived:
      return true;
    case TcpState::kClosed:
    case TcpState::kListen:
    case TcpState::kEstablished:
    case TcpState::kFinWait1:
    case TcpState::kFinWait2:
    case TcpState::kCloseWait:
    case TcpState::kClosing:
    case TcpState::kLastAck:
    case TcpState::kTimeWait:
    case TcpState::kInvalid:
    case TcpState::kIgnore:
      return false;
  }
  return false;
}

bool isClosing(TcpState s) noexcept {
  switch (s) {
    case TcpState::kFinWait1:
    case TcpState::kFinWait2:
    case TcpState::kCloseWait:
    case TcpState::kClosing:
    case TcpState::kLastAck:
    case TcpState::kTimeWait:
    case TcpState::kClosed:
      return true;
    case TcpState::kListen:
    case TcpState::kSynSent:
    case TcpState::kSynReceived:
    case TcpState::kEstablished:
    case TcpState::kInvalid:
    case TcpState::kIgnore:
      return false;
  }
  return false;
}

std::string_view toString(TcpState s) noexcept {
  switch (s) {
    case TcpState::kClosed:
      return "CLOSED";
    case TcpState::kListen:
      return "LISTEN";
    case TcpState::kSynSent:
      return "SYN_SENT";
    case TcpState::kSynReceived:
      return "SYN_RECEIVED";
    case TcpState::kEstablished:
      return "ESTABLISHED";
    case TcpState::kFinWait1:
      return "FIN_WAIT_1";
    case TcpState::kFinWait2:
      return "FIN_WAIT_2";
    case TcpState::kCloseWait:
      return "CLOSE_WAIT";
    case TcpState::kClosing:
      return "CLOSING";
    case TcpState::kLastAck:
      return "LAST_ACK";
    case TcpState::kTimeWait:
      return "TIME_WAIT";
    case TcpState::kInvalid:
      return "INVALID";
    case TcpState::kIgnore:
      return "IGNORE";
  }
  return "?";
}

std::string_view toString(TcpEvent e) noexcept {
  switch (e) {
    case TcpEvent::kSyn:
      return "syn";
    case TcpEvent::kSynAck:
      return "syn_ack";
    case TcpEvent::kAck:
      return "ack";
    case TcpEvent::kAckOfFin:
      return "ack_of_fin";
    case TcpEvent::kFin:
      return "fin";
    case TcpEvent::kFinAckOfFin:
      return "fin_ack_of_fin";
    case TcpEvent::kRst:
      return "rst";
    case TcpEvent::kNone:
      return "none";
  }
  return "?";
}

}  // namespace synguard::engine
