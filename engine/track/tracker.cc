#include "engine/track/tracker.h"

#include <algorithm>
#include <array>

#include "engine/track/outcome.h"
#include "engine/track/window.h"

namespace synguard::engine {

namespace {

/// A segment that answers what `peer` has sent, as only the endpoint that received it can:
/// an ACK (no RST) acknowledging no more than the peer sent and no less than a window behind
/// (tcp_in_window's checks III and IV). A blind spoofer does not see the peer's numbers.
bool answers(const EndpointView& peer, const EndpointView& sender, const Segment& seg) noexcept {
  if (!peer.has(kEpSeen) || !seg.has(kAck) || seg.has(kRst)) {
    return false;
  }
  const SeqNum ack = seg.ack;
  return !ack.after(SeqNum{peer.end}) &&
         !ack.before(SeqNum{peer.end} - std::max(sender.max_win, kMinAckWindow));
}

}  // namespace

std::chrono::milliseconds Timeouts::forState(TcpState s) const noexcept {
  switch (s) {
    case TcpState::kSynSent:
      return syn_sent;
    case TcpState::kSynReceived:
      return syn_received;
    case TcpState::kEstablished:
      return established;
    case TcpState::kFinWait1:
    case TcpState::kFinWait2:
      return fin_wait;
    case TcpState::kCloseWait:
      return close_wait;
    case TcpState::kClosing:
      return closing;
    case TcpState::kLastAck:
      return last_ack;
    case TcpState::kTimeWait:
      return time_wait;
    case TcpState::kClosed:
    case TcpState::kListen:
    case TcpState::kInvalid:
    case TcpState::kIgnore:
      return closed;
  }
  return closed;
}

MonotonicTime Tracker::timeOfTick(std::uint32_t tick) const noexcept {
  // The tick is at most 2^31 ms behind the latest time seen.
  const std::uint32_t latest_tick = tickOf(latest_);
  const auto back = static_cast<std::uint32_t>(latest_tick - tick);
  const MonotonicTime latest_ms{
      epoch_.since_epoch +
      std::chrono::milliseconds(static_cast<std::int64_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(latest_ - epoch_).count()))};
  return latest_ms + std::chrono::milliseconds(-static_cast<std::int64_t>(back));
}

std::uint8_t Tracker::listFor(const Connection& c) const noexcept {
  // Half-open entries stay on their state's list (its timeout, capped by the unassured one,
  // applies to the whole list: all of it is unassured but for a proxied connection's moment).
  return c.assured() || isHalfOpen(c.state) ? ConnectionTable::listOf(c.state)
                                            : ConnectionTable::kUnassuredList;
}

void Tracker::assure(Connection& c) noexcept {
  if (c.assured()) {
    return;
  }
  c.in_use = static_cast<std::uint8_t>(c.in_use | kSlotAssured);
  --stats_->unassured;
  ++stats_->connections_assured;
}

void Tracker::expireUntil(std::uint32_t tick) noexcept {
  const auto unassured = static_cast<std::int64_t>(unassuredTimeout().count());
  for (std::size_t l = 0; l < ConnectionTable::kListCount; ++l) {
    const auto list = static_cast<std::uint8_t>(l);
    std::int64_t timeout = unassured;
    if (list != ConnectionTable::kUnassuredList) {
      const TcpState state = kTcpStates[l];
      timeout = static_cast<std::int64_t>(timeoutFor(state).count());
      if (isHalfOpen(state)) {
        timeout = std::min(timeout, unassured);
      }
    }
    for (std::uint32_t idx = table_->head(list); idx != kNoIndex; idx = table_->head(list)) {
      const auto age = static_cast<std::int32_t>(tick - table_->at(idx).last_seen);
      if (age < timeout) {
        break;
      }
      end(idx, EndCause::kTimeout);
    }
  }
}

void Tracker::flush() noexcept {
  for (std::uint32_t i = 0; i < table_->capacity(); ++i) {
    if (table_->at(i).in_use != 0) {
      end(i, EndCause::kFlushed);
    }
  }
}

void Tracker::end(std::uint32_t idx, EndCause cause) noexcept {
  Connection& c = table_->at(idx);
  leaveHalfOpen(c);
  if (!c.assured()) {
    --stats_->unassured;
  }
  --stats_->connections_by_state[index(c.state)];
  ++stats_->connections_ended[static_cast<std::size_t>(cause)];
  listener_->onConnectionEnd(c, cause);
  table_->remove(idx);
  updateEmergency();
}

void Tracker::updateEmergency() noexcept {
  const std::size_t n = table_->size();
  if (stats_->emergency == 0 && n > emergency_enter_) {
    stats_->emergency = 1;
    ++stats_->emergency_entered;
  } else if (stats_->emergency != 0 && n < emergency_leave_) {
    stats_->emergency = 0;
  }
}

std::uint32_t Tracker::oldestEvictable(bool closing) const noexcept {
  // Unassured entries sit on the unassured list and the half-open lists; assured closing ones
  // on the closing states' lists. The ESTABLISHED list holds only assured connections: those
  // are never evicted for a newcomer, so a flood cannot push out working connections. A few
  // list heads, O(1).
  static constexpr std::array<std::uint8_t, 3> kUnassuredLists = {
      ConnectionTable::kUnassuredList, ConnectionTable::listOf(TcpState::kSynSent),
      ConnectionTable::listOf(TcpState::kSynReceived)};
  static constexpr std::array<std::uint8_t, 8> kClosingLists = {
      ConnectionTable::listOf(TcpState::kClosed),    ConnectionTable::listOf(TcpState::kListen),
      ConnectionTable::listOf(TcpState::kFinWait1),  ConnectionTable::listOf(TcpState::kFinWait2),
      ConnectionTable::listOf(TcpState::kCloseWait), ConnectionTable::listOf(TcpState::kClosing),
      ConnectionTable::listOf(TcpState::kLastAck),   ConnectionTable::listOf(TcpState::kTimeWait)};
  std::uint32_t victim = kNoIndex;
  std::int32_t oldest_age = -1;
  const std::uint32_t now_tick = tickOf(latest_);
  const auto consider = [&](std::uint8_t list) {
    const std::uint32_t h = table_->head(list);
    if (h == kNoIndex) {
      return;
    }
    const auto age = static_cast<std::int32_t>(now_tick - table_->at(h).last_seen);
    if (age > oldest_age) {
      oldest_age = age;
      victim = h;
    }
  };
  for (const std::uint8_t l : kUnassuredLists) {
    consider(l);
  }
  if (victim == kNoIndex && closing) {
    for (const std::uint8_t l : kClosingLists) {
      consider(l);
    }
  }
  return victim;
}

void Tracker::evict(std::uint32_t victim, EvictKind kind) noexcept {
  ++stats_->evictions[static_cast<std::size_t>(kind)];
  // The next victim is likely the one after this on the same list: start loading what
  // removing it will touch (during a flood every new SYN evicts).
  table_->prefetchForRemoval(table_->at(victim).lru_next);
  end(victim, EndCause::kEvicted);
}

std::uint32_t Tracker::allocate(const FlowKey& key, std::uint64_t hash, bool assured) noexcept {
  if (!assured && stats_->unassured >= unassured_cap_) {
    // Unassured entries hold their whole share: the newcomer (unassured too) takes the oldest
    // one's place, and the reserve stays free for assured and proxied connections.
    if (const std::uint32_t victim = oldestEvictable(false); victim != kNoIndex) {
      evict(victim, EvictKind::kUnassuredShare);
    }
  }
  std::uint32_t idx = table_->insert(key, hash);
  if (idx == kNoIndex) {
    // Full: evict the oldest unassured entry, else the oldest closing one.
    const std::uint32_t victim = oldestEvictable(true);
    if (victim == kNoIndex) {
      ++stats_->table_full;
      return kNoIndex;
    }
    evict(victim, table_->at(victim).assured() ? EvictKind::kClosing : EvictKind::kUnassured);
    idx = table_->insert(key, hash);
  }
  ++stats_->connections_created;
  stats_->table_peak = std::max<std::uint64_t>(stats_->table_peak, table_->size());
  Connection& c = table_->at(idx);
  c.ep[0].state = TcpState::kClosed;
  c.ep[1].state = TcpState::kListen;
  c.state = TcpState::kListen;
  c.first_seen_ns = latest_.since_epoch.count();
  if (assured) {
    c.in_use = static_cast<std::uint8_t>(c.in_use | kSlotAssured);
    ++stats_->connections_assured;
  } else {
    ++stats_->unassured;
  }
  ++stats_->connections_by_state[index(c.state)];
  // On a timer list from the start, so an entry whose first segment changes nothing still
  // expires (the caller's track() moves it to its state's list).
  table_->touch(idx, listFor(c), tickOf(latest_));
  updateEmergency();
  return idx;
}

void Tracker::setState(Connection& c, TcpState next) noexcept {
  if (c.state == next) {
    return;
  }
  const TcpState prev = c.state;
  --stats_->connections_by_state[index(prev)];
  ++stats_->connections_by_state[index(next)];
  c.state = next;
  // Side effects of the (old, new) pair.
  const bool was_half_open = isHalfOpen(prev) && (c.flags & kConnSynSeen) != 0;
  const bool is_half_open = isHalfOpen(next) && (c.flags & kConnSynSeen) != 0;
  if (was_half_open && !is_half_open) {
    leaveHalfOpen(c);
  }
  switch (next) {
    case TcpState::kEstablished:
      if (isHalfOpen(prev)) {
        ++stats_->handshakes_completed;
      }
      break;
    case TcpState::kClosed:
    case TcpState::kListen:
    case TcpState::kSynSent:
    case TcpState::kSynReceived:
    case TcpState::kFinWait1:
    case TcpState::kFinWait2:
    case TcpState::kCloseWait:
    case TcpState::kClosing:
    case TcpState::kLastAck:
    case TcpState::kTimeWait:
    case TcpState::kInvalid:
    case TcpState::kIgnore:
      break;
  }
}

void Tracker::enterHalfOpen(Connection& c, const HalfOpenAccounting::SynRefs& refs) noexcept {
  if ((c.flags & kConnHalfOpenCounted) != 0) {
    return;
  }
  half_open_->enter(c, refs);
  if (half_open_events_) {
    listener_->onHalfOpenEntered(c);
  }
}

void Tracker::leaveHalfOpen(Connection& c) noexcept {
  if ((c.flags & kConnHalfOpenCounted) == 0) {
    return;
  }
  half_open_->leave(c);
  if (half_open_events_) {
    listener_->onHalfOpenLeft(c);
  }
}

Verdict Tracker::invalid(InvalidReason r) noexcept {
  ++stats_->invalid[static_cast<std::size_t>(r)];
  return Verdict::accept(VerdictReason::kInvalid);
}

void Tracker::markBypass(Connection& c, const Segment& seg, Verdict& v) noexcept {
  // Only a plain segment of a connection established on both sides: the kernel rule that acts
  // on the mark sees the same flags, and a SYN, FIN or RST must always come to us.
  if (c.state != TcpState::kEstablished || seg.has(kSyn) || seg.has(kFin) || seg.has(kRst) ||
      (c.flags & kConnProxied) != 0) {
    return;
  }
  if ((c.flags & kConnBypassed) == 0) {
    ++stats_->bypass_started;
  }
  c.flags = static_cast<std::uint8_t>(c.flags | kConnBypassed | kConnResyncOrig | kConnResyncResp);
  v.bypass = true;
}

// The steps of track(), defined inline: they are its body cut into named parts, and the
// packet path must not pay for calls between them.
inline bool Tracker::followResync(Connection& c, bool from_orig, const Segment& seg) noexcept {
  EndpointView& snd = c.ep[from_orig ? 0 : 1];
  EndpointView& rcv = c.ep[from_orig ? 1 : 0];
  bool resynced = false;
  const std::uint8_t resync_bit = from_orig ? kConnResyncOrig : kConnResyncResp;
  if ((c.flags & resync_bit) != 0 && !seg.has(kSyn)) {
    // Segments of this sender bypassed us: its sequence space moved on unseen. Take this
    // segment as its new position (conntrack's pickup does the same) and judge it liberally;
    // a RST then matches exactly (the endpoint itself checks RSTs against its window).
    resyncSender(snd, rcv, seg);
    resynced = true;
    if ((c.flags & kConnBypassed) == 0 || seg.has(kFin) || seg.has(kRst)) {
      c.flags = static_cast<std::uint8_t>(c.flags & ~resync_bit);
    }
  }
  if (seg.has(kFin) || seg.has(kRst)) {
    // The kernel's bypass rule removes the tuple on a FIN or RST: from here on we see it all.
    c.flags = static_cast<std::uint8_t>(c.flags & ~kConnBypassed);
  }
  return resynced;
}

inline std::optional<Verdict> Tracker::classify(Connection& c, bool from_orig, const Segment& seg,
                                                Step& step) noexcept {
  const EndpointView& snd = c.ep[from_orig ? 0 : 1];
  const EndpointView& rcv = c.ep[from_orig ? 1 : 0];
  step.check_window = (c.flags & kConnWindowLiberal) == 0;
  if (followResync(c, from_orig, seg)) {
    step.check_window = false;
  }
  if (seg.has(kRst)) {
    switch (checkRst(snd, rcv, seg)) {
      case RstCheck::kExact:
        step.ev = TcpEvent::kRst;
        break;
      case RstCheck::kInWindow:
        ++stats_->rst_in_window;
        return Verdict::accept(VerdictReason::kIgnored);
      case RstCheck::kOutOfWindow:
        return invalid(InvalidReason::kRstOutOfWindow);
      case RstCheck::kNotAcceptable:
        return invalid(InvalidReason::kRstNotAcceptable);
    }
    step.check_window = false;
  } else if (seg.has(kSyn)) {
    step.ev = seg.has(kAck) ? TcpEvent::kSynAck : TcpEvent::kSyn;
    const bool handshake = isHalfOpen(c.state) || c.state == TcpState::kListen;
    if (step.ev == TcpEvent::kSynAck &&
        (rcv.state == TcpState::kSynSent || rcv.state == TcpState::kSynReceived)) {
      // RFC 9293 §3.10.7.3: the SYN-ACK must acknowledge exactly our SYN (ISS + 1).
      if (seg.ack != SeqNum{rcv.end}) {
        return invalid(InvalidReason::kSynAckBadAck);
      }
    }
    // A SYN or SYN-ACK during the handshake (first, retransmitted, or with a new ISN after the
    // old attempt was abandoned) (re)defines its sender's sequence space.
    step.init_sender =
        handshake && (snd.state == TcpState::kClosed || snd.state == TcpState::kListen ||
                      snd.state == TcpState::kSynSent || snd.state == TcpState::kSynReceived);
    if (step.init_sender) {
      step.check_window = false;
    }
  } else if (seg.has(kFin)) {
    step.ev = acksFin(rcv, seg) ? TcpEvent::kFinAckOfFin : TcpEvent::kFin;
  } else if (seg.has(kAck)) {
    step.ev = acksFin(rcv, seg) ? TcpEvent::kAckOfFin : TcpEvent::kAck;
  }
  return std::nullopt;
}

inline void Tracker::apply(Connection& c, bool from_orig, const Segment& seg, const Step& step,
                           TcpState ns, TcpState nr,
                           const HalfOpenAccounting::SynRefs* syn_refs) noexcept {
  EndpointView& snd = c.ep[from_orig ? 0 : 1];
  EndpointView& rcv = c.ep[from_orig ? 1 : 0];
  // The window views first, then the states.
  if (step.init_sender) {
    initFromSyn(snd, seg);
    if (step.ev == TcpEvent::kSynAck || (step.ev == TcpEvent::kSyn && !from_orig)) {
      settleWindowScale(c.ep[0], c.ep[1]);
      if (seg.has(kAck)) {
        const SeqNum right = seg.ack + std::max<std::uint32_t>(seg.window, 1);
        rcv.max_end = right.raw();
      }
    }
  } else if (step.ev != TcpEvent::kRst) {
    updateWindow(snd, rcv, seg);
  }
  if (ns != TcpState::kIgnore) {
    snd.state = ns;
  }
  if (nr != TcpState::kIgnore) {
    rcv.state = nr;
  }
  const TcpState before = c.state;
  setState(c, connectionState(c.ep[0].state, c.ep[1].state));
  if (syn_refs != nullptr && from_orig && isHalfOpen(c.state) && (c.flags & kConnSynSeen) != 0 &&
      !isHalfOpen(before)) {
    enterHalfOpen(c, *syn_refs);
    half_open_->notePeakTime(latest_.since_epoch.count());
  }
  if (!c.assured()) {
    // Assured once the other side has answered consistently: a handshake seen from its SYN
    // to the final ACK (windows checked), or, for a pickup, the responder acknowledging what
    // the originator was seen to send — which a blind spoofer of either side cannot fake.
    const bool handshake = (c.flags & (kConnSynSeen | kConnPickedUp)) == kConnSynSeen &&
                           isHalfOpen(before) && c.state == TcpState::kEstablished;
    const bool answered = (c.flags & kConnPickedUp) != 0 && !from_orig &&
                          step.ev != TcpEvent::kRst && answers(c.ep[0], c.ep[1], seg);
    if (handshake || answered) {
      assure(c);
    }
  }
}

Verdict Tracker::track(std::uint32_t idx, bool from_orig, const Segment& seg, std::uint32_t tick,
                       const HalfOpenAccounting::SynRefs* syn_refs) noexcept {
  Connection& c = table_->at(idx);
  if (!validFlags(seg.flags)) {
    return invalid(InvalidReason::kBadFlags);
  }
  // Classify the segment into an event, running the guards in RFC 9293 §3.10.7.4 order.
  Step step;
  if (const auto v = classify(c, from_orig, seg, step)) {
    return *v;
  }
  const EndpointView& snd = c.ep[from_orig ? 0 : 1];
  const EndpointView& rcv = c.ep[from_orig ? 1 : 0];
  if (step.check_window) {
    if (const auto bad = checkWindow(snd, rcv, seg)) {
      return invalid(*bad);
    }
  }
  const TcpState ns = nextState(Role::kSender, step.ev, snd.state);
  const TcpState nr = nextState(Role::kReceiver, step.ev, rcv.state);
  if (ns == TcpState::kInvalid || nr == TcpState::kInvalid) {
    return invalid(InvalidReason::kOutOfState);
  }
  if (ns == TcpState::kIgnore && nr == TcpState::kIgnore) {
    if (step.ev == TcpEvent::kSyn) {
      ++stats_->syn_on_synchronized;
    }
    return Verdict::accept(VerdictReason::kIgnored);
  }
  apply(c, from_orig, seg, step, ns, nr, syn_refs);
  table_->touch(idx, listFor(c), tick);
  return Verdict::accept(VerdictReason::kTracked);
}

Tracker::Tracker(const TrackerConfig& cfg, std::uint64_t hash_seed)
    : cfg_(cfg),
      table_(std::make_unique<ConnectionTable>(cfg.table_capacity, hash_seed)),
      half_open_(std::make_unique<HalfOpenAccounting>(cfg.half_open, hash_seed)) {
  applyFillMarks();
}

void Tracker::reconfigure(const TrackerConfig& cfg) noexcept {
  cfg_ = cfg;
  applyFillMarks();
}

void Tracker::applyFillMarks() noexcept {
  const auto cap = static_cast<double>(table_->capacity());
  emergency_enter_ = static_cast<std::size_t>(cap * cfg_.emergency.enter_fill);
  emergency_leave_ = static_cast<std::size_t>(cap * cfg_.emergency.leave_fill);
  unassured_cap_ = table_->capacity() - static_cast<std::size_t>(cap * cfg_.assured_reserve);
}

void Tracker::endIfOver(ConnectionTable::Found& found, std::uint32_t tick) noexcept {
  // The unassured list expires at one timeout for all; an entry whose state's own timeout is
  // shorter (CLOSED, LAST-ACK, ...) is over by then and is judged so when a packet finds it.
  const Connection& c = table_->at(found.idx);
  if (static_cast<std::int32_t>(tick - c.last_seen) >=
      static_cast<std::int32_t>(std::min(timeoutFor(c.state), unassuredTimeout()).count())) {
    end(found.idx, EndCause::kTimeout);
    found = ConnectionTable::Found{};
  }
}

bool Tracker::endsHeld(const ConnectionTable::Found& found, bool syn, MonotonicTime now) noexcept {
  const Connection& c = table_->at(found.idx);
  const bool attempt_over =
      cfg_.attempt_timeout.count() > 0 && c.ep[1].observed == Observed::kInactive &&
      (c.ep[0].observed == Observed::kSynSent || c.ep[0].observed == Observed::kSynAckSent) &&
      now.since_epoch.count() - c.first_seen_ns >=
          std::chrono::nanoseconds(cfg_.attempt_timeout).count();
  if (syn && (c.state == TcpState::kTimeWait || c.state == TcpState::kClosed)) {
    // RFC 9293 §3.10.7.4 / RFC 6191: a new SYN may reuse a tuple in TIME-WAIT; after a RST
    // the tuple is free. The old connection is reported and a new one begins, its originator
    // being this SYN's sender.
    ++stats_->connections_reopened;
    end(found.idx, EndCause::kReopened);
    return true;
  }
  if (syn && !c.assured() && ((c.flags & kConnPickedUp) != 0 || !isHalfOpen(c.state))) {
    // An unassured entry that is not a handshake of its own: a pickup nobody answered (a
    // spoofed segment "from the service" makes one), a stray, an unanswered close. A SYN
    // ends it and takes the new-connection path — counted, limited, answered with a cookie
    // in cookie mode — instead of passing as part of whatever the entry claimed to be.
    end(found.idx, EndCause::kSuperseded);
    return true;
  }
  if (attempt_over) {
    end(found.idx, EndCause::kAttempt);
    return true;
  }
  return false;
}

Verdict Tracker::trackHeld(const ConnectionTable::Found& found, const Segment& seg,
                           const HalfOpenAccounting::SynRefs* syn_refs,
                           std::uint32_t tick) noexcept {
  Connection& c = table_->at(found.idx);
  const bool from_orig = !found.reply;
  if (seg.first_fragment) [[unlikely]] {
    // The rest of the datagram's sequence space goes unseen.
    c.flags = static_cast<std::uint8_t>(c.flags | kConnWindowLiberal);
  }
  ++c.pkts[from_orig ? 0 : 1];
  observeSegment(c, from_orig, seg);
  Verdict v = track(found.idx, from_orig, seg, tick, syn_refs);
  if (cfg_.bypass_established && v.reason == VerdictReason::kTracked) {
    markBypass(table_->at(found.idx), seg, v);
  }
  return v;
}

Verdict Tracker::refuseStray(const FlowKey& tuple, std::uint64_t hash, const Segment& seg,
                             std::uint32_t tick) noexcept {
  if (!cfg_.record_stray) {
    return invalid(InvalidReason::kNoConnection);
  }
  const bool flip = likelyServerPort(seg.src_port) && !likelyServerPort(seg.dst_port);
  const std::uint32_t idx = allocate(flip ? tuple.reversed() : tuple, hash);
  if (idx != kNoIndex) {
    Connection& c = table_->at(idx);
    c.flags = kConnPickedUp | kConnWindowLiberal;
    c.ep[0].state = TcpState::kClosed;
    c.ep[1].state = TcpState::kClosed;
    setState(c, TcpState::kClosed);
    ++c.pkts[flip ? 1 : 0];
    observeSegment(c, !flip, seg);
    table_->touch(idx, listFor(c), tick);
  }
  return invalid(InvalidReason::kNoConnection);
}

bool Tracker::serverPortFirst(const Segment& seg) noexcept {
  const bool src_srv = likelyServerPort(seg.src_port);
  const bool dst_srv = likelyServerPort(seg.dst_port);
  return src_srv && (!dst_srv || seg.src_port < seg.dst_port);
}

Verdict Tracker::open(const FlowKey& key, std::uint64_t hash, const Segment& seg, bool from_orig,
                      const HalfOpenAccounting::SynRefs* syn_refs, std::uint32_t tick) noexcept {
  const std::uint32_t idx = allocate(key, hash);
  if (idx == kNoIndex) {
    return Verdict::accept(VerdictReason::kUntracked);
  }
  Connection& c = table_->at(idx);
  if (syn_refs != nullptr) {
    c.flags = kConnSynSeen;
    c.ep[0].flags = kEpRstOs0Ok;
  } else {
    ++stats_->connections_picked_up;
    c.flags = kConnPickedUp | kConnWindowLiberal;
    if (seg.has(kSyn)) {
      // SYN-ACK without its SYN: the originator must be in SYN-SENT, waiting for this.
      c.ep[0].state = TcpState::kSynSent;
      c.ep[0].end = seg.ack.raw();
      c.ep[0].max_end = seg.ack.raw();
      c.ep[0].max_win = 1;
    } else {
      // Mid-stream: both endpoints are assumed synchronized (conntrack's loose pickup).
      c.ep[0].state = TcpState::kEstablished;
      c.ep[1].state = TcpState::kEstablished;
    }
    setState(c, connectionState(c.ep[0].state, c.ep[1].state));
  }
  if (seg.first_fragment) [[unlikely]] {
    // The rest of the datagram's sequence space goes unseen.
    c.flags = static_cast<std::uint8_t>(c.flags | kConnWindowLiberal);
  }
  ++c.pkts[from_orig ? 0 : 1];
  observeSegment(c, from_orig, seg);
  return track(idx, from_orig, seg, tick, syn_refs);
}

}  // namespace synguard::engine
