#include "engine/track/window.h"

#include <algorithm>

namespace synguard::engine {

std::uint32_t scaledWindow(const EndpointView& sender, const Segment& seg) noexcept {
  if (seg.has(kSyn) || !sender.has(kEpWscaleOk)) {
    return seg.window;
  }
  return std::uint32_t{seg.window} << sender.wscale;
}

void initFromSyn(EndpointView& sender, const Segment& seg) noexcept {
  const std::uint32_t end = seg.seq.raw() + seg.seqLen();
  sender.end = end;
  sender.max_end = end;
  sender.max_win = std::max<std::uint32_t>(seg.window, 1);
  sender.wscale = 0;
  sender.flags = static_cast<std::uint8_t>(
      sender.flags & ~(kEpWscaleOk | kEpSackPerm | kEpFinSent | kEpTimestamps | kEpAckSent));
  if (seg.options.has_wscale) {
    sender.wscale = std::min(seg.options.wscale, kMaxWindowScale);
    sender.flags = static_cast<std::uint8_t>(sender.flags | kEpWscaleOk);  // offered; see settle
  }
  if (seg.options.sack_permitted) {
    sender.flags = static_cast<std::uint8_t>(sender.flags | kEpSackPerm);
  }
  if (seg.options.has_timestamps) {
    sender.flags = static_cast<std::uint8_t>(sender.flags | kEpTimestamps);
  }
  if (seg.has(kAck)) {
    sender.max_ack = seg.ack.raw();
    sender.flags = static_cast<std::uint8_t>(sender.flags | kEpAckSent);
  }
  sender.flags = static_cast<std::uint8_t>(sender.flags | kEpSeen);
}

void settleWindowScale(EndpointView& orig, EndpointView& resp) noexcept {
  if (orig.has(kEpWscaleOk) && resp.has(kEpWscaleOk)) {
    return;
  }
  orig.flags = static_cast<std::uint8_t>(orig.flags & ~kEpWscaleOk);
  resp.flags = static_cast<std::uint8_t>(resp.flags & ~kEpWscaleOk);
  orig.wscale = resp.wscale = 0;
}

bool acksFin(const EndpointView& receiver, const Segment& seg) noexcept {
  return receiver.has(kEpFinSent) && seg.has(kAck) &&
         SeqNum{seg.ack}.afterOrEq(SeqNum{receiver.end});
}

std::optional<InvalidReason> checkWindow(const EndpointView& sender, const EndpointView& receiver,
                                         const Segment& seg) noexcept {
  const SeqNum seq = seg.seq;
  const SeqNum end = seq + seg.seqLen();
  if (sender.has(kEpFinSent) && end.after(SeqNum{sender.end})) {
    return InvalidReason::kDataAfterFin;
  }
  // (I) not beyond the right edge the receiver advertised.
  if (seq.after(SeqNum{sender.max_end})) {
    return InvalidReason::kSeqAboveWindow;
  }
  // (II) not entirely before what the receiver could still be waiting for.
  if (end.before(SeqNum{sender.end} - receiver.max_win)) {
    return InvalidReason::kSeqBelowWindow;
  }
  if (seg.has(kAck) && receiver.has(kEpSeen)) {
    const SeqNum ack = seg.ack;
    // (III) acks only what the receiver has sent.
    if (ack.after(SeqNum{receiver.end})) {
      return InvalidReason::kAckAboveSent;
    }
    // (IV) not too far behind.
    if (ack.before(SeqNum{receiver.end} - std::max(sender.max_win, kMinAckWindow))) {
      return InvalidReason::kAckBelowWindow;
    }
  }
  return std::nullopt;
}

void updateWindow(EndpointView& sender, EndpointView& receiver, const Segment& seg) noexcept {
  const std::uint32_t win = scaledWindow(sender, seg);
  const SeqNum end = seg.seq + seg.seqLen();
  sender.max_win = std::max({sender.max_win, win, std::uint32_t{1}});
  if (end.after(SeqNum{sender.end})) {
    sender.end = end.raw();
  }
  if (seg.has(kFin)) {
    sender.flags = static_cast<std::uint8_t>(sender.flags | kEpFinSent);
  }
  if (seg.payload_len > 0) {
    sender.flags = static_cast<std::uint8_t>(sender.flags | kEpDataSent);
  }
  if (seg.has(kAck)) {
    if (!sender.has(kEpAckSent) || seg.ack.after(SeqNum{sender.max_ack})) {
      sender.max_ack = seg.ack.raw();
    }
    sender.flags = static_cast<std::uint8_t>(sender.flags | kEpAckSent);
    // The receiver may send up to ack + window (conntrack: receiver->td_maxend).
    const SeqNum right = seg.ack + std::max<std::uint32_t>(win, 1);
    if (right.after(SeqNum{receiver.max_end}) || !receiver.has(kEpSeen)) {
      receiver.max_end = right.raw();
    }
    if (!receiver.has(kEpSeen)) {
      // First sight of the receiver's sequence space is the ack that names it.
      receiver.end = seg.ack.raw();
    }
  }
  // The sender may always send up to what it has already sent.
  if (SeqNum{sender.end}.after(SeqNum{sender.max_end})) {
    sender.max_end = sender.end;
  }
  sender.flags = static_cast<std::uint8_t>(sender.flags | kEpSeen);
}

void resyncSender(EndpointView& sender, EndpointView& receiver, const Segment& seg) noexcept {
  const SeqNum end = seg.seq + seg.seqLen();
  sender.end = end.raw();
  sender.max_end = end.raw();
  if (seg.has(kAck)) {
    sender.max_ack = seg.ack.raw();
    sender.flags = static_cast<std::uint8_t>(sender.flags | kEpAckSent);
    receiver.max_end = (seg.ack + std::max<std::uint32_t>(scaledWindow(sender, seg), 1)).raw();
  }
  sender.flags = static_cast<std::uint8_t>(sender.flags | kEpSeen);
}

RstCheck checkRst(const EndpointView& sender, const EndpointView& receiver,
                  const Segment& seg) noexcept {
  if (receiver.state == TcpState::kSynSent) {
    return seg.has(kAck) && seg.ack == SeqNum{receiver.end} ? RstCheck::kExact
                                                            : RstCheck::kNotAcceptable;
  }
  const SeqNum seq = seg.seq;
  const bool sender_known = sender.has(kEpSeen);
  const bool receiver_acked = receiver.has(kEpAckSent);
  if ((sender_known && seq == SeqNum{sender.end}) ||
      (receiver_acked && seq == SeqNum{receiver.max_ack})) {
    return RstCheck::kExact;
  }
  if (!sender_known && !receiver_acked) {
    return RstCheck::kInWindow;  // nothing to compare with: leave it to the endpoint
  }
  const SeqNum rcv_nxt = receiver_acked ? SeqNum{receiver.max_ack} : SeqNum{sender.end};
  const std::uint32_t wnd = std::max<std::uint32_t>(receiver.max_win, 1);
  if (seq.afterOrEq(rcv_nxt) && seq.before(rcv_nxt + wnd)) {
    return RstCheck::kInWindow;
  }
  return RstCheck::kOutOfWindow;
}

}  // namespace synguard::engine
