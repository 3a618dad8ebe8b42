#include "engine/stats.h"

namespace synguard::engine {

std::string_view toString(InvalidReason r) noexcept {
  switch (r) {
    case InvalidReason::kBadFlags:
      return "bad_flags";
    case InvalidReason::kOutOfState:
      return "out_of_state";
    case InvalidReason::kSeqAboveWindow:
      return "seq_above_window";
    case InvalidReason::kSeqBelowWindow:
      return "seq_below_window";
    case InvalidReason::kAckAboveSent:
      return "ack_above_sent";
    case InvalidReason::kAckBelowWindow:
      return "ack_below_window";
    case InvalidReason::kDataAfterFin:
      return "data_after_fin";
    case InvalidReason::kSynAckBadAck:
      return "syn_ack_bad_ack";
    case InvalidReason::kRstNotAcceptable:
      return "rst_not_acceptable";
    case InvalidReason::kRstOutOfWindow:
      return "rst_out_of_window";
    case InvalidReason::kNoConnection:
      return "no_connection";
    case InvalidReason::kCount:
      break;
  }
  return "unknown";
}

std::string_view toString(EndCause c) noexcept {
  switch (c) {
    case EndCause::kTimeout:
      return "timeout";
    case EndCause::kEvicted:
      return "evicted";
    case EndCause::kReopened:
      return "reopened";
    case EndCause::kFlushed:
      return "open_at_end";
    case EndCause::kAttempt:
      return "attempt_timeout";
    case EndCause::kReaped:
      return "reaped";
    case EndCause::kSuperseded:
      return "superseded";
    case EndCause::kConntrack:
      return "conntrack";
    case EndCause::kCount:
      break;
  }
  return "unknown";
}

std::string_view toString(EvictKind k) noexcept {
  switch (k) {
    case EvictKind::kUnassuredShare:
      return "unassured_share";
    case EvictKind::kUnassured:
      return "unassured";
    case EvictKind::kClosing:
      return "closing";
    case EvictKind::kCount:
      break;
  }
  return "unknown";
}

std::string_view translatedName(std::size_t i) noexcept {
  return i == 0 ? "to_server" : "to_client";
}

std::string_view handoffEndName(std::size_t i) noexcept {
  switch (i) {
    case 0:
      return "taken_back";
    case 1:
      return "closed";
    default:
      return "gone";
  }
}

std::string_view toString(Action a) noexcept {
  switch (a) {
    case Action::kAccept:
      return "accept";
    case Action::kDrop:
      return "drop";
  }
  return "unknown";
}

std::string_view toString(VerdictReason r) noexcept {
  switch (r) {
    case VerdictReason::kTracked:
      return "tracked";
    case VerdictReason::kIgnored:
      return "ignored";
    case VerdictReason::kInvalid:
      return "invalid";
    case VerdictReason::kUntracked:
      return "untracked";
    case VerdictReason::kNotTcp:
      return "not_tcp";
    case VerdictReason::kFragment:
      return "fragment";
    case VerdictReason::kMalformed:
      return "malformed";
    case VerdictReason::kCookieSent:
      return "cookie_sent";
    case VerdictReason::kCookieInvalid:
      return "cookie_invalid";
    case VerdictReason::kNoConnection:
      return "no_connection";
    case VerdictReason::kDenied:
      return "denied";
    case VerdictReason::kSourceRate:
      return "source_syn_rate";
    case VerdictReason::kSourceHalfOpen:
      return "source_half_open";
    case VerdictReason::kProxied:
      return "proxied";
    case VerdictReason::kProxyHandshake:
      return "proxy_handshake";
    case VerdictReason::kProxyHeld:
      return "proxy_held";
    case VerdictReason::kProxyFull:
      return "proxy_full";
    case VerdictReason::kFragmentUnsafe:
      return "fragment_unsafe";
    case VerdictReason::kFragmentNoConnection:
      return "fragment_no_connection";
    case VerdictReason::kFragmentProxied:
      return "fragment_proxied";
    case VerdictReason::kServerSide:
      return "server_side_stray";
    case VerdictReason::kProxySourceLimit:
      return "proxy_source_limit";
    case VerdictReason::kProxiedSyn:
      return "proxied_syn";
    case VerdictReason::kCount:
      break;
  }
  return "unknown";
}

}  // namespace synguard::engine
