// The proxy: a client that returned a valid cookie is joined to the real server (our SYN, its
// SYN-ACK, our ACK), and every segment of the connection is translated afterwards.

#include <algorithm>

#include "engine/protect/protector.h"
#include "engine/protect/translate.h"
#include "engine/track/outcome.h"
#include "engine/track/window.h"

namespace synguard::engine {

namespace {

/// Half the cookie timestamp clock's resolution (2^10 us): the RTT estimate's midpoint.
constexpr std::int64_t kTsResolutionHalfUs = 512;
/// An echoed timestamp further back than this did not come from our clock (another gateway
/// with a skewed clock, or garbage): the RTT counts as unmeasured.
constexpr std::int64_t kMaxPlausibleRttUs = 3'000'000;

/// A proxied segment passed on, rewritten in place when the caller's buffer allows it.
Verdict passed(std::span<const std::byte> bytes) noexcept {
  Verdict v = Verdict::accept(VerdictReason::kProxied);
  v.rewritten = bytes.data() != nullptr;
  return v;
}

}  // namespace

std::optional<Verdict> Protector::admitAck(std::uint32_t svc, const FlowKey& tuple,
                                           std::uint64_t hash, const Segment& seg,
                                           std::span<const std::byte> packet, std::uint32_t tick,
                                           const Clock& clock) noexcept {
  ServiceRuntime& rt = runtime_[svc];
  const ServiceConfig& sc = cfg_.services[svc];
  if (sc.mode == ProtectionMode::kOff) {
    return std::nullopt;
  }
  readWall(clock);
  const SynCookies::Checked chk = cookies_.check(tuple, seg.seq - 1, seg.ack - 1, cookie_counter_);
  if (chk.reject != CookieReject::kNone) {
    if (rt.mode.mode() != ServiceMode::kCookie) {
      return std::nullopt;  // normal mode: a mid-stream pickup, as ever
    }
    ++stats_->cookies_rejected[static_cast<std::size_t>(chk.reject)];
    ++rt.cookies_rejected;
    if (const Verdict v = dropOrWould(svc, VerdictReason::kCookieInvalid);
        v.action == Action::kDrop) {
      return v;
    }
    return std::nullopt;
  }
  if (monitoring(svc)) {
    return std::nullopt;  // we hand out no cookies in monitor mode; another gateway did
  }
  // A valid cookie, in whatever mode the service is now (the flood may have just ended).
  return startProxy(svc, tuple, hash, seg, chk.mss, packet, tick);
}

Verdict Protector::startProxy(std::uint32_t svc, const FlowKey& tuple, std::uint64_t hash,
                              const Segment& seg, std::uint16_t client_mss,
                              std::span<const std::byte> packet, std::uint32_t tick) noexcept {
  if (proxies_->size() >= proxies_->capacity()) {
    return Verdict::drop(VerdictReason::kProxyFull);
  }
  std::uint32_t source = kNoIndex;
  if (!reserveProxySource(seg, source)) {
    return Verdict::drop(VerdictReason::kProxySourceLimit);
  }
  // Assured from the start (a valid cookie proves the client), so never short of a slot while
  // any unassured or closing entry is there to give it up.
  const std::uint32_t idx = tracker_->allocate(tuple, hash, true);
  if (idx == kNoIndex) {
    return Verdict::drop(VerdictReason::kProxyFull);
  }
  const std::uint32_t pidx = proxies_->allocate(idx);
  ProxyEntry& p = proxies_->at(pidx);
  Connection& c = tracker_->at(idx);
  c.flags = kConnProxied;
  c.setProxyEntry(pidx);
  if (source != kNoIndex) {
    tracker_->halfOpen().sources().addProxied(source);
    p.source = source;
  }
  ServiceRuntime& rt = runtime_[svc];
  ++stats_->cookies_validated;
  ++rt.cookies_validated;
  ++rt.handshakes_completed;
  ++stats_->proxied_total;
  ++rt.proxied;

  const CookieTsOptions o =
      seg.options.has_timestamps ? decodeCookieTsecr(seg.options.ts_ecr) : CookieTsOptions{};
  initProxyEntry(p, svc, seg, client_mss, o);
  measureClientRtt(rt, p, seg);
  replayHandshake(idx, p, seg, o, tick);

  sendServerSyn(p, c);
  proxies_->notePhase(ProxyPhase::kFree, ProxyPhase::kSynSent);
  p.phase = ProxyPhase::kSynSent;
  p.last_syn = tick;
  p.deadline = tick + static_cast<std::uint32_t>(cfg_.proxy.server_timeout.count());
  proxies_->schedule(pidx, p.deadline);

  if (seg.payload_len > 0 || seg.has(kFin)) {
    // RFC 9293 §3.5: the final ACK may carry data. Keep it for the server.
    holdEarly(pidx, packet);
    return Verdict::drop(VerdictReason::kProxyHeld);
  }
  return Verdict::drop(VerdictReason::kProxyHandshake);
}

bool Protector::reserveProxySource(const Segment& seg, std::uint32_t& source) noexcept {
  // One source prefix may hold only so many proxied connections: a real address completes
  // handshakes at will, and must not take the whole proxy table from everyone else.
  const std::size_t cap = cfg_.proxy.max_per_source;
  if (cap == 0 || (!cfg_.allow.empty() && cfg_.allow.contains(seg.src))) {
    return true;
  }
  HalfOpenAccounting& half_open = tracker_->halfOpen();
  source = half_open.sources().findOrInsert(half_open.sourcePrefix(seg.src), 0);
  if (source == CounterTable::kOverflow) {
    ++stats_->source_limit_overflow;  // shared by every source beyond capacity: no cap
    source = kNoIndex;
    return true;
  }
  return half_open.sources().at(source).proxied < cap;
}

void Protector::initProxyEntry(ProxyEntry& p, std::uint32_t svc, const Segment& seg,
                               std::uint16_t client_mss, const CookieTsOptions& o) noexcept {
  const bool ts = seg.options.has_timestamps;
  p.service = svc;
  p.client_isn = (seg.seq - 1).raw();
  p.cookie_isn = (seg.ack - 1).raw();
  p.client_mss = client_mss;
  p.client_tsval = seg.options.ts_val;
  p.cookie_tsval = seg.options.ts_ecr;
  p.client_window = seg.window;
  p.client_wscale = o.wscale;
  p.announced_wscale = o.our_wscale;
  p.flags = static_cast<std::uint16_t>(
      (ts ? kPxClientTs | kPxAnnouncedTs : 0) | (o.has_wscale ? kPxClientWs : 0) |
      (o.has_our_wscale ? kPxAnnouncedWs : 0) | (o.sack_permitted ? kPxClientSack : 0) |
      (o.ecn ? kPxClientEcn : 0) | (cfg_.proxy.hold_with_zero_window ? kPxHeld : 0));
}

void Protector::measureClientRtt(ServiceRuntime& rt, ProxyEntry& p, const Segment& seg) noexcept {
  // The client's RTT, from our SYN-ACK's timestamp to this ACK.
  std::int64_t rtt_us = -1;
  if (seg.options.has_timestamps) {
    const auto elapsed =
        static_cast<std::int64_t>(static_cast<std::int32_t>(cookieTsNow() - seg.options.ts_ecr));
    if (elapsed >= 0 && elapsed < kMaxPlausibleRttUs) {
      rtt_us = std::max<std::int64_t>(0, elapsed - kTsResolutionHalfUs);
      p.flags |= kPxRttMeasured;
      rt.client_rtt_us = rt.client_rtt_us == 0
                             ? static_cast<double>(rtt_us)
                             : rt.client_rtt_us * 0.875 + 0.125 * static_cast<double>(rtt_us);
    }
  }
  if (rtt_us < 0) {
    rtt_us =
        rt.client_rtt_us > 0
            ? static_cast<std::int64_t>(rt.client_rtt_us)
            : std::chrono::duration_cast<std::chrono::microseconds>(cfg_.proxy.default_client_rtt)
                  .count();
  }
  p.client_rtt_us = static_cast<std::uint32_t>(rtt_us);
}

void Protector::replayHandshake(std::uint32_t idx, const ProxyEntry& p, const Segment& seg,
                                const CookieTsOptions& o, std::uint32_t tick) noexcept {
  // The tracker sees the handshake the client saw, in the client's sequence space: its SYN,
  // our SYN-ACK, then this ACK. Their verdicts are not the packet's: the proxy's is.
  Connection& c = tracker_->at(idx);
  const bool client_ws_on = o.has_wscale && o.has_our_wscale;
  Segment syn = seg;
  syn.flags = kSyn;
  syn.seq = seg.seq - 1;
  syn.ack = SeqNum{0};
  syn.payload_len = 0;
  syn.options = TcpOptions{};
  syn.options.has_mss = true;
  syn.options.mss = p.client_mss;
  syn.options.has_wscale = o.has_wscale;
  syn.options.wscale = o.wscale;
  syn.options.sack_permitted = o.sack_permitted;
  syn.options.has_timestamps = seg.options.has_timestamps;
  syn.window = rescaleWindow(seg.window, client_ws_on ? o.wscale : 0, 0);
  ++c.pkts[0];
  observeSegment(c, true, syn);
  tracker_->track(idx, true, syn, tick, nullptr);
  Segment synack = syn;
  std::swap(synack.src, synack.dst);
  std::swap(synack.src_port, synack.dst_port);
  synack.flags = kSyn | kAck;
  synack.seq = SeqNum{p.cookie_isn};
  synack.ack = seg.seq;
  synack.window = p.has(kPxHeld) ? std::uint16_t{0} : std::uint16_t{65535};
  synack.options.has_wscale = o.has_our_wscale;
  synack.options.wscale = o.our_wscale;
  ++c.pkts[1];
  observeSegment(c, false, synack);
  tracker_->track(idx, false, synack, tick, nullptr);
  ++c.pkts[0];
  observeSegment(c, true, seg);
  tracker_->track(idx, true, seg, tick, nullptr);
}

void Protector::holdEarly(std::uint32_t pidx, std::span<const std::byte> packet) noexcept {
  if (proxies_->keepEarly(pidx, packet, cfg_.proxy.early_segments_per_connection)) {
    ++stats_->proxy_early_kept;
  } else {
    ++stats_->proxy_early_dropped;
  }
}

void Protector::sendServerSyn(ProxyEntry& p, const Connection& c) noexcept {
  const bool client_ws_on = p.has(kPxClientWs) && p.has(kPxAnnouncedWs);
  TcpOut o = segmentOn(c.key, true);
  o.seq = SeqNum{p.client_isn};
  o.flags = kSyn;
  if (p.has(kPxClientEcn)) {
    o.flags |= kEce | kCwr;
  }
  o.window = rescaleWindow(p.client_window, client_ws_on ? p.client_wscale : 0, 0);
  o.mss = p.client_mss;
  o.has_wscale = client_ws_on;  // the server scales only if the client does (RFC 7323 §2.2)
  o.wscale = p.client_wscale;
  o.sack_permitted = p.has(kPxClientSack);
  o.has_timestamps = p.has(kPxClientTs);
  o.ts_val = p.client_tsval;
  o.ts_ecr = 0;
  emit(Direction::kToServer, o);
  ++p.syn_sends;
}

void Protector::sendServerAck(const ProxyEntry& p, const Connection& c) noexcept {
  TcpOut o = segmentOn(c.key, true);
  o.seq = SeqNum{p.client_isn + 1};
  o.ack = SeqNum{p.server_isn + 1};
  o.flags = kAck;
  o.window = rescaleWindow(p.client_window, p.tr.client_shift_c, p.tr.client_shift_s);
  o.has_timestamps = p.has(kPxClientTs) && p.has(kPxServerTs);
  o.ts_val = p.client_tsval;
  o.ts_ecr = p.server_tsval;
  emit(Direction::kToServer, o);
}

void Protector::completeProxy(std::uint32_t pidx, std::uint32_t tick) noexcept {
  ProxyEntry& p = proxies_->at(pidx);
  const std::uint32_t idx = p.conn;
  sendServerAck(p, tracker_->at(idx));
  if (p.has(kPxHeld)) {
    // Release the client: a window update (RFC 9293 §3.10.7.4: SND.WL1 < SEG.SEQ) with the
    // window the server offered, as the client reads it.
    const Connection& c = tracker_->at(idx);
    TcpOut o = segmentOn(c.key, false);
    o.seq = SeqNum{p.cookie_isn + 1};
    o.ack = SeqNum{p.client_isn + 1};
    o.flags = kAck;
    o.window = rescaleWindow(p.server_window, 0, p.tr.server_shift_c);
    o.has_timestamps = p.has(kPxAnnouncedTs);
    o.ts_val = p.cookie_tsval;  // = server TSval + ts_off: the server's clock continues from it
    o.ts_ecr = p.client_tsval;
    const std::size_t n = writeTcpPacket(o, out_);
    sink_->emit(Direction::kToClient, std::span<const std::byte>(out_.data(), n));
    Segment s;
    if (parseSegment(std::span<const std::byte>(out_.data(), n), s) == ParseError::kNone) {
      tracker_->track(idx, false, s, tick, nullptr);
    }
  }
  proxies_->notePhase(p.phase, ProxyPhase::kEstablished);
  p.phase = ProxyPhase::kEstablished;
  ++stats_->proxy_completed;
  offerHandoff(p, tracker_->at(idx));
  proxies_->drainEarly(pidx, [&](std::span<std::byte> pkt) {
    Segment s;
    if (parseSegment(pkt, s) == ParseError::kNone) {
      translateToServer(pkt, s, p.tr, true);  // full checksum: it may have arrived partial
      ++stats_->translated[0];
      sink_->emit(Direction::kToServer, pkt);
    }
  });
}

void Protector::offerHandoff(ProxyEntry& p, const Connection& c) noexcept {
  if (!cfg_.proxy.handoff || observer_ == nullptr) {
    return;
  }
  // The kernel's seqadj shifts sequence numbers (and SACK blocks), the synproxy extension the
  // timestamps; neither rescales a window, so the shifts must agree on both sides.
  const Translation& t = p.tr;
  if (t.client_shift_c != t.client_shift_s || t.server_shift_s != t.server_shift_c) {
    ++stats_->proxy_handoff_window_scale;
    return;
  }
  ProxyHandoff h;
  h.tuple = c.key;
  h.seq_offset = p.cookie_isn - p.server_isn;
  h.cookie_isn = p.cookie_isn;
  h.server_isn = p.server_isn;
  h.timestamps = p.has(kPxClientTs) && p.has(kPxServerTs);
  h.ts_off = h.timestamps ? t.ts_off : 0U;
  h.cookie_tsval = p.cookie_tsval;
  h.sack = p.has(kPxClientSack) && p.has(kPxServerSack);
  h.window_shift_c = t.client_shift_c;
  h.window_shift_s = t.server_shift_s;
  h.service = p.service;
  ++stats_->proxy_handoff_offered;
  p.flags |= kPxHandedOff;
  observer_->onProxyHandoff(h);
}

std::optional<Verdict> Protector::reachedHandedOff(ProxyEntry& p, const Connection& c,
                                                   bool from_orig, const Segment& seg) noexcept {
  if (seg.has(kSyn)) {
    // The daemon's sets never send a SYN the kernel's way, so every segment with SYN on the
    // tuple comes here. Whoever sent it (a client whose connection is over before the end
    // reached us, or a blind guess at a live tuple, SYN+ACK+FIN and the like included), it
    // must not reach the server unvalidated, nor disturb the connection (no take-back below):
    // dropped. For a client's SYN the daemon asks conntrack, and ends the entry if it is over.
    if (from_orig && !seg.has(kAck) && observer_ != nullptr) {
      observer_->onHandedOffSyn(c.key);
    }
    return Verdict::drop(VerdictReason::kProxiedSyn);
  }
  if (seg.has(kFin) || seg.has(kRst)) {
    // The close came through the queue: the daemon's set element is not there (yet, or any
    // more). Whatever the kernel's entry saw, this close it did not: the engine translates
    // the connection again until its end, and the kernel's entry goes.
    p.flags = static_cast<std::uint16_t>(p.flags & ~kPxHandedOff);
    ++stats_->proxy_handoff_ends[static_cast<std::size_t>(HandoffEnd::kTakenBack)];
    if (observer_ != nullptr) {
      observer_->onHandoffTakenBack(c.key);
    }
  }
  return std::nullopt;
}

void Protector::handoffEnded(std::uint32_t idx, HandoffEnd how, std::uint32_t tick) noexcept {
  Connection& c = tracker_->at(idx);
  if ((c.flags & kConnProxied) == 0) {
    return;
  }
  ProxyEntry& p = proxies_->at(c.proxyEntry());
  if (!p.has(kPxHandedOff)) {
    // Taken back: the engine follows it itself. Except a close that went on through the kernel
    // (the rest of its segments found the set elements before the daemon removed them):
    // conntrack saw it end, the engine saw only its start.
    const bool closing = c.state != TcpState::kEstablished && c.state != TcpState::kTimeWait &&
                         c.state != TcpState::kClosed;
    if (how != HandoffEnd::kClosed || !closing || p.phase != ProxyPhase::kEstablished) {
      return;
    }
  }
  p.flags = static_cast<std::uint16_t>(p.flags & ~kPxHandedOff);
  ++stats_->proxy_handoff_ends[static_cast<std::size_t>(how)];
  if (how == HandoffEnd::kTakenBack) {
    return;  // the kernel never took it (no entry created): the engine goes on translating
  }
  if (how == HandoffEnd::kClosed) {
    // Both FINs and the last ACK went through the kernel. The engine's TIME-WAIT keeps the
    // tuple (a reused port starts a new connection, as without the handoff), not the proxy
    // entry: a source that opens and closes connections as fast as it likes must not fill
    // proxy.capacity with closed ones, nor keep its proxy.max_per_source share. The price: a
    // server FIN retransmitted because the last ACK was lost passes untranslated (the client
    // drops it; the server gives up LAST-ACK on its own timer).
    unproxy(idx, TcpState::kTimeWait, tick);
    return;
  }
  tracker_->end(idx, EndCause::kConntrack);
}

void Protector::abortProxy(std::uint32_t pidx, bool rst_client, bool rst_server,
                           std::uint32_t tick) noexcept {
  ProxyEntry& p = proxies_->at(pidx);
  const std::uint32_t idx = p.conn;
  Connection& c = tracker_->at(idx);
  if (rst_client) {
    TcpOut o = segmentOn(c.key, false);
    o.seq = SeqNum{p.cookie_isn + 1};  // the client's RCV.NXT: an exact RST (RFC 5961 §3.2)
    o.ack = SeqNum{c.ep[0].end};
    o.flags = kRst | kAck;
    emit(Direction::kToClient, o);
    c.ep[1].observed = Observed::kReset;
  }
  if (rst_server) {
    TcpOut o = segmentOn(c.key, true);
    o.seq = SeqNum{p.client_isn + 1};
    o.flags = kRst;
    emit(Direction::kToServer, o);
  }
  unproxy(idx, TcpState::kClosed, tick);
}

void Protector::unproxy(std::uint32_t idx, TcpState state, std::uint32_t tick) noexcept {
  Connection& c = tracker_->at(idx);
  const std::uint32_t pidx = c.proxyEntry();
  c.ep[0].state = state;
  c.ep[1].state = state;
  tracker_->setState(c, state);
  tracker_->touch(idx, tick);
  c.flags = static_cast<std::uint8_t>(c.flags & ~kConnProxied);
  c.setProxyEntry(kNoIndex);
  releaseProxy(pidx);
}

void Protector::releaseProxy(std::uint32_t pidx) noexcept {
  ProxyEntry& p = proxies_->at(pidx);
  if (p.source != kNoIndex) {
    tracker_->halfOpen().sources().removeProxied(p.source);
    p.source = kNoIndex;
  }
  proxies_->release(pidx);
}

void Protector::runProxyDeadlines(std::uint32_t tick) noexcept {
  std::uint32_t pidx = 0;
  std::uint32_t due = 0;
  while (proxies_->popDue(tick, pidx, due)) {
    const ProxyEntry& p = proxies_->at(pidx);
    if (p.deadline != due) {
      continue;  // superseded
    }
    switch (p.phase) {
      case ProxyPhase::kSynSent:
        ++stats_->proxy_server_timeout;
        abortProxy(pidx, true, true, tick);
        break;
      case ProxyPhase::kAckDelayed:
        completeProxy(pidx, tick);
        break;
      case ProxyPhase::kFree:
      case ProxyPhase::kEstablished:
        break;
    }
  }
}

Verdict Protector::proxied(std::uint32_t idx, bool from_orig, Segment& seg,
                           std::span<const std::byte> packet, std::byte* writable,
                           bool checksum_partial, std::uint32_t tick) noexcept {
  Connection& c = tracker_->at(idx);
  if (seg.first_fragment) [[unlikely]] {
    // The proxy translates whole segments; the rest of this datagram would reach the other
    // side untranslated. TCP sets DF (RFC 9293 §3.7.2, path MTU discovery): a real endpoint
    // does not fragment, so nothing legitimate is lost.
    return Verdict::drop(VerdictReason::kFragmentProxied);
  }
  ++c.pkts[from_orig ? 0 : 1];
  // Empty (no data()) when the caller's buffer is read-only: classified alike, not rewritten.
  const std::span<std::byte> bytes =
      writable != nullptr ? std::span<std::byte>(writable, packet.size()) : std::span<std::byte>();
  return from_orig ? fromClient(idx, seg, packet, bytes, checksum_partial, tick)
                   : fromServer(idx, seg, bytes, checksum_partial, tick);
}

Verdict Protector::fromClient(std::uint32_t idx, Segment& seg, std::span<const std::byte> packet,
                              std::span<std::byte> bytes, bool checksum_partial,
                              std::uint32_t tick) noexcept {
  Connection& c = tracker_->at(idx);
  const std::uint32_t pidx = c.proxyEntry();
  ProxyEntry& p = proxies_->at(pidx);
  // RFC 5961 §3.2: only a RST at the client's next sequence number may end the handshake; a
  // blind guess must not make us reset a connection the server has not even accepted yet.
  if (p.has(kPxHandedOff)) {
    if (const auto v = reachedHandedOff(p, c, true, seg)) {
      return *v;
    }
  } else if (seg.has(kSyn) && !seg.has(kAck) && p.phase == ProxyPhase::kEstablished &&
             c.state != TcpState::kEstablished) {
    // A new SYN while the old connection closes (a FIN seen; the engine may have missed the
    // rest of the close while the kernel carried it): translated, it would join the old
    // connection. Dropped; the client's retransmission finds the tuple in TIME-WAIT.
    return Verdict::drop(VerdictReason::kProxiedSyn);
  }
  const bool rst_exact = seg.has(kRst) && checkRst(c.ep[0], c.ep[1], seg) == RstCheck::kExact;
  if (!seg.has(kRst)) {
    if (seg.options.has_timestamps) {
      p.client_tsval = seg.options.ts_val;
    }
    if (!seg.has(kSyn)) {
      p.client_window = seg.window;
    }
  }
  observeSegment(c, true, seg);
  tracker_->track(idx, true, seg, tick, nullptr);  // in the client's sequence space
  switch (p.phase) {
    case ProxyPhase::kEstablished:
      translateToServer(bytes, seg, p.tr, checksum_partial);
      ++stats_->translated[0];
      return passed(bytes);
    case ProxyPhase::kSynSent:
    case ProxyPhase::kAckDelayed:
      return clientBeforeServer(pidx, seg, rst_exact, packet, tick);
    case ProxyPhase::kFree:
      break;
  }
  return Verdict::drop(VerdictReason::kProxyHandshake);
}

Verdict Protector::clientBeforeServer(std::uint32_t pidx, const Segment& seg, bool rst_exact,
                                      std::span<const std::byte> packet,
                                      std::uint32_t tick) noexcept {
  ProxyEntry& p = proxies_->at(pidx);
  if (seg.has(kRst)) {
    if (!rst_exact) {
      ++stats_->proxy_rst_ignored;
      return Verdict::drop(VerdictReason::kProxyHandshake);
    }
    ++stats_->proxy_client_aborted;
    abortProxy(pidx, false, true, tick);
    return Verdict::drop(VerdictReason::kProxyHandshake);
  }
  if (p.phase == ProxyPhase::kSynSent &&
      static_cast<std::int32_t>(tick - p.last_syn) >=
          static_cast<std::int32_t>(cfg_.proxy.syn_resend_interval.count())) {
    // The client is retrying and the server has not answered: retry the server too.
    sendServerSyn(p, tracker_->at(p.conn));
    p.last_syn = tick;
    ++stats_->proxy_syn_resent;
  }
  if (seg.payload_len > 0 || seg.has(kFin)) {
    holdEarly(pidx, packet);
    return Verdict::drop(VerdictReason::kProxyHeld);
  }
  ++stats_->proxy_duplicate_acks;
  return Verdict::drop(VerdictReason::kProxyHandshake);
}

Verdict Protector::fromServer(std::uint32_t idx, Segment& seg, std::span<std::byte> bytes,
                              bool checksum_partial, std::uint32_t tick) noexcept {
  Connection& c = tracker_->at(idx);
  const std::uint32_t pidx = c.proxyEntry();
  ProxyEntry& p = proxies_->at(pidx);
  if (p.has(kPxHandedOff)) {
    if (const auto v = reachedHandedOff(p, c, false, seg)) {
      return *v;
    }
  }
  switch (p.phase) {
    case ProxyPhase::kSynSent:
      if (seg.has(kSyn) && seg.has(kAck)) {
        acceptServerSynAck(pidx, seg, tick);
        return Verdict::drop(VerdictReason::kProxyHandshake);
      }
      if (seg.has(kRst) && seg.has(kAck) && seg.ack.raw() == p.client_isn + 1) {
        ++stats_->proxy_refused;  // RFC 9293 §3.10.7.3: a RST that ACKs our SYN is acceptable
        abortProxy(pidx, true, false, tick);
      }
      return Verdict::drop(VerdictReason::kProxyHandshake);
    case ProxyPhase::kAckDelayed:
      if (seg.has(kRst) && seg.seq.raw() == p.server_isn + 1) {
        ++stats_->proxy_refused;
        abortProxy(pidx, true, false, tick);
      }
      return Verdict::drop(VerdictReason::kProxyHandshake);  // e.g. its SYN-ACK retransmitted
    case ProxyPhase::kEstablished:
      if (seg.has(kSyn) && seg.has(kAck)) {
        // Our ACK was lost and the server retransmits its SYN-ACK: ACK it again.
        if (seg.seq.raw() == p.server_isn) {
          sendServerAck(p, c);
        }
        return Verdict::drop(VerdictReason::kProxyHandshake);
      }
      translateToClient(bytes, seg, p.tr, checksum_partial);
      ++stats_->translated[1];
      observeSegment(c, false, seg);
      tracker_->track(idx, false, seg, tick, nullptr);
      return passed(bytes);
    case ProxyPhase::kFree:
      break;
  }
  return Verdict::drop(VerdictReason::kProxyHandshake);
}

void Protector::acceptServerSynAck(std::uint32_t pidx, const Segment& seg,
                                   std::uint32_t tick) noexcept {
  ProxyEntry& p = proxies_->at(pidx);
  if (seg.ack.raw() != p.client_isn + 1) {
    ++stats_->invalid[static_cast<std::size_t>(InvalidReason::kSynAckBadAck)];
    return;
  }
  p.server_isn = seg.seq.raw();
  p.server_tsval = seg.options.ts_val;
  p.server_window = seg.window;
  p.server_wscale = std::min<std::uint8_t>(seg.options.wscale, kMaxWindowScale);
  p.flags = static_cast<std::uint16_t>(p.flags | (seg.options.has_timestamps ? kPxServerTs : 0) |
                                       (seg.options.has_wscale ? kPxServerWs : 0) |
                                       (seg.options.sack_permitted ? kPxServerSack : 0) |
                                       (seg.has(kEce) ? kPxServerEcn : 0));
  const bool client_ws_on = p.has(kPxClientWs) && p.has(kPxAnnouncedWs);
  const bool server_ws_on = client_ws_on && p.has(kPxServerWs);
  p.tr.seq_delta = p.server_isn - p.cookie_isn;
  p.tr.ts_off = p.has(kPxServerTs) && p.has(kPxClientTs) ? p.cookie_tsval - p.server_tsval : 0U;
  p.tr.client_shift_c = client_ws_on ? p.client_wscale : 0;
  p.tr.client_shift_s = server_ws_on ? p.client_wscale : 0;
  p.tr.server_shift_s = server_ws_on ? p.server_wscale : 0;
  p.tr.server_shift_c = client_ws_on ? p.announced_wscale : 0;
  learnFrom(p.service, seg);
  // Delay our ACK by the client's RTT so the server measures the whole path's RTT,
  // not the microseconds to us (a BBR server would otherwise crawl).
  const auto max_ms = static_cast<std::uint32_t>(cfg_.proxy.max_ack_delay.count());
  const std::uint32_t delay_ms = std::min((p.client_rtt_us + 500) / 1000, max_ms);
  if (delay_ms == 0) {
    completeProxy(pidx, tick);
  } else {
    proxies_->notePhase(p.phase, ProxyPhase::kAckDelayed);
    p.phase = ProxyPhase::kAckDelayed;
    p.deadline = tick + delay_ms;
    proxies_->schedule(pidx, p.deadline);
    ++stats_->proxy_ack_delayed;
  }
}

}  // namespace synguard::engine
