// The protection half of the engine: per-service adaptive modes, SYN cookies, deny
// and allow lists, per-source limits, and the proxy that joins a client who returned a valid
// cookie to the real server, translating every segment of the connection afterwards.

#include <algorithm>

#include "engine/engine.h"
#include "engine/track/outcome.h"
#include "engine/track/window.h"

namespace synguard::engine {

namespace {

constexpr std::uint8_t kProtoTcpNumber = 6;

/// RFC 9293 §3.7.1: without an MSS option the peer assumes 536 (IPv4) / 1220 (IPv6, RFC 8200).
constexpr std::uint16_t kDefaultMssV4 = 536;
constexpr std::uint16_t kDefaultMssV6 = 1220;
/// Half the cookie timestamp clock's resolution (2^10 us): the RTT estimate's midpoint.
constexpr std::int64_t kTsResolutionHalfUs = 512;
/// An echoed timestamp further back than this did not come from our clock (another gateway
/// with a skewed clock, or garbage): the RTT counts as unmeasured.
constexpr std::int64_t kMaxPlausibleRttUs = 3'000'000;

/// A segment the proxy sends on a connection's behalf: client -> server (`to_server`) or back.
TcpOut segmentOn(const FlowKey& k, bool to_server) noexcept {
  TcpOut o;
  o.src = to_server ? k.orig_addr : k.resp_addr;
  o.dst = to_server ? k.resp_addr : k.orig_addr;
  o.src_port = to_server ? k.orig_port : k.resp_port;
  o.dst_port = to_server ? k.resp_port : k.orig_port;
  return o;
}

}  // namespace

bool Engine::monitoring(std::uint32_t svc) const noexcept {
  return cfg_.protection.dry_run || cfg_.protection.services[svc].monitor;
}

Verdict Engine::dropOrWould(std::uint32_t svc, VerdictReason r) noexcept {
  if (monitoring(svc)) {
    ++stats_.would_drop[static_cast<std::size_t>(r)];
    ++runtime_[svc].would_drop;
    return Verdict::accept(r);  // the caller goes on as if nothing was decided
  }
  return Verdict::drop(r);
}

void Engine::localLoad(std::size_t svc, std::uint32_t& half_open, double& syn_rate) noexcept {
  ServiceRuntime& rt = runtime_[svc];
  half_open = rt.half_open;
  // The smoothed rate lags a sudden flood by a second or more; the window now open does not.
  syn_rate = std::max(rt.syn_rate.rate(tickOf(latest_)),
                      static_cast<double>(rt.syn_rate.currentWindowCount()));
}

void Engine::updateMode(std::uint32_t svc, std::uint32_t tick, MonotonicTime now) noexcept {
  ServiceRuntime& rt = runtime_[svc];
  std::uint32_t half_open = rt.half_open;
  double rate =
      std::max(rt.syn_rate.rate(tick), static_cast<double>(rt.syn_rate.currentWindowCount()));
  if (load_source_ != nullptr) {
    std::uint32_t other_half_open = 0;
    double other_rate = 0;
    load_source_->othersLoad(svc, other_half_open, other_rate);
    half_open += other_half_open;
    rate += other_rate;
  }
  if (const auto change = rt.mode.update(half_open, rate, now)) {
    ++stats_.mode_changes;
    ++rt.mode_changes;
    rt.last_change = change;
    if (observer_ != nullptr) {
      observer_->onModeChange(svc, *change);
    }
  }
}

void Engine::readWall() noexcept {
  wall_ = clock_->wall();
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(wall_);
  if (secs == cookie_time_ && key_period_ >= 0) {
    return;  // same second: same counter, same keys
  }
  cookie_time_ = secs;
  cookie_counter_ = cookies_.counterOf(secs);
  const std::int64_t period = cookie_time_.count() / cfg_.protection.key_rotation.count();
  if (period != key_period_) {
    if (key_period_ >= 0) {
      ++stats_.key_rotations;
    }
    key_period_ = period;
    const SipKey& master = secrets_.master_key;
    cookies_.setKeys(CookieKeys{deriveCookieKey(master, static_cast<std::uint64_t>(period)),
                                deriveCookieKey(master, static_cast<std::uint64_t>(period - 1)),
                                true});
  }
}

std::uint32_t Engine::cookieTsNow() const noexcept {
  // Microseconds of wall time: the low kCookieTsBits carry options, so the echo measures the
  // client's RTT to about a millisecond. Only our SYN-ACK carries this clock; afterwards the
  // client sees the server's clock, shifted to continue from it (Translation::ts_off).
  return static_cast<std::uint32_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(wall_).count());
}

ServerProfile Engine::profileFor(std::uint32_t svc) const noexcept {
  ServerProfile p = runtime_[svc].profile;
  const ServiceConfig& sc = cfg_.protection.services[svc];
  if (sc.mss_override) {
    p.mss = *sc.mss_override;
  }
  if (sc.wscale_override) {
    p.has_wscale = *sc.wscale_override <= kMaxWindowScale;
    p.wscale = std::min<std::uint8_t>(*sc.wscale_override, kMaxWindowScale);
  }
  return p;
}

void Engine::learnFrom(std::uint32_t svc, const Segment& s) noexcept {
  if (svc >= runtime_.size()) {
    return;  // the service was removed by a reload while the connection was being proxied
  }
  ServerProfile& p = runtime_[svc].profile;
  ServerProfile next = p;
  next.mss = s.options.has_mss ? s.options.mss : std::uint16_t{0};
  next.has_wscale = s.options.has_wscale;
  next.wscale = std::min<std::uint8_t>(s.options.wscale, kMaxWindowScale);
  next.sack_permitted = s.options.sack_permitted;
  next.timestamps = s.options.has_timestamps;
  next.ecn = s.has(kEce);
  next.learned = true;
  if (next.mss != p.mss || next.has_wscale != p.has_wscale || next.wscale != p.wscale ||
      next.sack_permitted != p.sack_permitted || next.timestamps != p.timestamps ||
      next.ecn != p.ecn || !p.learned) {
    ++stats_.learned_profiles;
    p = next;
  }
}

void Engine::learnProfile(const Connection& c, const Segment& synack) noexcept {
  const std::uint32_t svc = services_.find(c.key.resp_addr, c.key.resp_port);
  if (svc != ServiceMap::kNone) {
    learnFrom(svc, synack);
  }
}

void Engine::emit(Direction dir, const TcpOut& seg) noexcept {
  // Written straight into the sink's send buffer when it offers one (no copy).
  if (const std::span<std::byte> room = sink_->reserve(!seg.src.isV4(), kMaxWrittenPacket);
      room.size() >= kMaxWrittenPacket) {
    sink_->commit(dir, writeTcpPacket(seg, room.data()));
    return;
  }
  const std::size_t n = writeTcpPacket(seg, out_);
  sink_->emit(dir, std::span<const std::byte>(out_.data(), n));
}

std::optional<Verdict> Engine::admitSyn(std::uint32_t svc, const FlowKey& tuple, const Segment& seg,
                                        const HalfOpenAccounting::SynRefs& refs, std::uint32_t tick,
                                        MonotonicTime now) noexcept {
  ServiceRuntime& rt = runtime_[svc];
  const ServiceConfig& sc = cfg_.protection.services[svc];
  ++rt.syns;
  rt.syn_rate.add(tick);
  updateMode(svc, tick, now);
  if (sc.mode == ProtectionMode::kOff) {
    return std::nullopt;
  }
  if (!cfg_.protection.allow.empty() && cfg_.protection.allow.contains(seg.src)) {
    return std::nullopt;  // trusted: no cookie, no limits
  }
  const SourceLimits& lim = sc.per_source;
  // Every source beyond the accounting's capacity shares its overflow entry: limiting that
  // entry would limit all of them at once, which is what a spoofed flood filling the table
  // wants. Those sources go unlimited (counted); cookie mode still holds them.
  const bool shared = refs.source == CounterTable::kOverflow;
  if (shared && (lim.syn_rate != 0 || lim.max_half_open != 0)) {
    ++stats_.source_limit_overflow;
  }
  const bool limited = refs.source != kNoIndex && !shared;
  if (lim.syn_rate != 0 && limited) {
    CounterEntry& e = half_open_->sources().at(refs.source);
    if (!e.bucket.take(now, lim.syn_rate, lim.syn_burst != 0 ? lim.syn_burst : lim.syn_rate)) {
      if (const Verdict v = dropOrWould(svc, VerdictReason::kSourceRate);
          v.action == Action::kDrop) {
        return v;
      }
    }
  }
  const bool cookie = rt.mode.mode() == ServiceMode::kCookie;
  if (!cookie && lim.max_half_open != 0 && limited &&
      half_open_->sources().at(refs.source).half_open >= lim.max_half_open) {
    if (const Verdict v = dropOrWould(svc, VerdictReason::kSourceHalfOpen);
        v.action == Action::kDrop) {
      return v;
    }
  }
  if (!cookie) {
    return std::nullopt;
  }
  if (monitoring(svc)) {
    ++stats_.would_cookie;
    ++rt.would_cookie;
    return std::nullopt;
  }

  // Answer with a cookie: no state is kept for this SYN.
  readWall();
  const ServerProfile prof = profileFor(svc);
  const bool v4 = seg.ip_version == 4;
  const std::uint16_t client_mss =
      seg.options.has_mss ? seg.options.mss : (v4 ? kDefaultMssV4 : kDefaultMssV6);
  const SynCookies::Made made = cookies_.make(tuple, seg.seq, client_mss, cookie_counter_);
  TcpOut o = segmentOn(tuple, false);  // the answer to the client, from the service
  o.seq = made.isn;
  o.ack = seg.seq + 1;
  o.flags = kSyn | kAck;
  o.window = cfg_.protection.proxy.hold_with_zero_window ? std::uint16_t{0} : std::uint16_t{65535};
  o.mss = prof.mss != 0 ? prof.mss
                        : (v4 ? cfg_.protection.default_mss_v4 : cfg_.protection.default_mss_v6);
  if (seg.options.has_timestamps && prof.timestamps) {
    // RFC 7323: everything else the client offered survives only in our timestamp. Without
    // timestamps a cookie connection has no window scaling, SACK or ECN (as with Linux).
    CookieTsOptions t;
    t.has_wscale = seg.options.has_wscale;
    t.wscale = std::min<std::uint8_t>(seg.options.wscale, kMaxWindowScale);
    t.sack_permitted = seg.options.sack_permitted && prof.sack_permitted;
    // RFC 3168 §6.1.1: an ECN-setup SYN has ECE and CWR set.
    t.ecn = seg.has(kEce) && seg.has(kCwr) && prof.ecn;
    t.has_our_wscale = seg.options.has_wscale && prof.has_wscale;
    t.our_wscale = prof.wscale;
    o.has_timestamps = true;
    o.ts_val = encodeCookieTsval(cookieTsNow(), t);
    o.ts_ecr = seg.options.ts_val;
    o.has_wscale = t.has_our_wscale;
    o.wscale = t.our_wscale;
    o.sack_permitted = t.sack_permitted;
    if (t.ecn) {
      o.flags |= kEce;
    }
  }
  emit(Direction::kToClient, o);
  ++stats_.cookies_sent;
  ++rt.cookies_sent;
  return Verdict::drop(VerdictReason::kCookieSent);
}

std::optional<Verdict> Engine::admitStray(std::uint32_t svc) noexcept {
  if (cfg_.protection.services[svc].mode == ProtectionMode::kOff ||
      runtime_[svc].mode.mode() != ServiceMode::kCookie) {
    return std::nullopt;
  }
  if (const Verdict v = dropOrWould(svc, VerdictReason::kNoConnection); v.action == Action::kDrop) {
    return v;
  }
  return std::nullopt;
}

std::optional<Verdict> Engine::admitFirstFragment(std::uint32_t svc) noexcept {
  if (cfg_.protection.services[svc].mode == ProtectionMode::kOff ||
      runtime_[svc].mode.mode() != ServiceMode::kCookie) {
    return std::nullopt;
  }
  if (const Verdict v = dropOrWould(svc, VerdictReason::kFragmentNoConnection);
      v.action == Action::kDrop) {
    return v;
  }
  return std::nullopt;
}

std::optional<Verdict> Engine::admitUnsafeFragment(const Segment& seg) noexcept {
  // No port to match: every protected service on the address decides, whatever its mode.
  for (std::uint32_t svc = 0; svc < runtime_.size(); ++svc) {
    const ServiceConfig& sc = cfg_.protection.services[svc];
    if (sc.mode == ProtectionMode::kOff || !sc.addresses.contains(seg.dst)) {
      continue;
    }
    if (const Verdict v = dropOrWould(svc, VerdictReason::kFragmentUnsafe);
        v.action == Action::kDrop) {
      return v;
    }
    return std::nullopt;
  }
  return std::nullopt;
}

std::optional<Verdict> Engine::admitFragment(const Segment& seg) noexcept {
  // IPv6: the fragmented part may begin with extension headers before its TCP header.
  const bool tcp =
      seg.ip_version == 4 ? seg.frag_proto == kProtoTcpNumber : fragmentMayBeTcp(seg.frag_proto);
  if (!tcp || runtime_.empty()) {
    return std::nullopt;
  }
  // Later fragments carry no port: any service on the address in cookie mode decides.
  for (std::uint32_t svc = 0; svc < runtime_.size(); ++svc) {
    const ServiceConfig& sc = cfg_.protection.services[svc];
    if (sc.mode == ProtectionMode::kOff || runtime_[svc].mode.mode() != ServiceMode::kCookie ||
        !sc.addresses.contains(seg.dst)) {
      continue;
    }
    if (const Verdict v = dropOrWould(svc, VerdictReason::kFragment); v.action == Action::kDrop) {
      return v;
    }
    return std::nullopt;
  }
  return std::nullopt;
}

std::optional<Verdict> Engine::admitAck(std::uint32_t svc, const FlowKey& tuple, std::uint64_t hash,
                                        const Segment& seg, std::span<const std::byte> packet,
                                        std::uint32_t tick) noexcept {
  ServiceRuntime& rt = runtime_[svc];
  const ServiceConfig& sc = cfg_.protection.services[svc];
  if (sc.mode == ProtectionMode::kOff) {
    return std::nullopt;
  }
  readWall();
  const SynCookies::Checked chk = cookies_.check(tuple, seg.seq - 1, seg.ack - 1, cookie_counter_);
  if (chk.reject != CookieReject::kNone) {
    if (rt.mode.mode() != ServiceMode::kCookie) {
      return std::nullopt;  // normal mode: a mid-stream pickup, as ever
    }
    ++stats_.cookies_rejected[static_cast<std::size_t>(chk.reject)];
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
  if (proxies_->size() >= proxies_->capacity()) {
    return Verdict::drop(VerdictReason::kProxyFull);
  }
  // One source prefix may hold only so many proxied connections: a real address completes
  // handshakes at will, and must not take the whole proxy table from everyone else.
  std::uint32_t source = kNoIndex;
  if (const std::size_t cap = cfg_.protection.proxy.max_per_source;
      cap != 0 && (cfg_.protection.allow.empty() || !cfg_.protection.allow.contains(seg.src))) {
    source = half_open_->sources().findOrInsert(half_open_->sourcePrefix(seg.src), 0);
    if (source == CounterTable::kOverflow) {
      ++stats_.source_limit_overflow;  // shared by every source beyond capacity: no cap
      source = kNoIndex;
    } else if (half_open_->sources().at(source).proxied >= cap) {
      return Verdict::drop(VerdictReason::kProxySourceLimit);
    }
  }
  // Assured from the start (a valid cookie proves the client), so never short of a slot while
  // any unassured or closing entry is there to give it up.
  const std::uint32_t idx = allocate(tuple, hash, true);
  if (idx == kNoIndex) {
    return Verdict::drop(VerdictReason::kProxyFull);
  }
  const std::uint32_t pidx = proxies_->allocate(idx);
  ProxyEntry& p = proxies_->at(pidx);
  Connection& c = table_->at(idx);
  c.flags = kConnProxied;
  c.setProxyEntry(pidx);
  if (source != kNoIndex) {
    half_open_->sources().addProxied(source);
    p.source = source;
  }
  ++stats_.cookies_validated;
  ++rt.cookies_validated;
  ++stats_.proxied_total;
  ++rt.proxied;

  const bool ts = seg.options.has_timestamps;
  const CookieTsOptions o = ts ? decodeCookieTsecr(seg.options.ts_ecr) : CookieTsOptions{};
  p.service = svc;
  p.client_isn = (seg.seq - 1).raw();
  p.cookie_isn = (seg.ack - 1).raw();
  p.client_mss = chk.mss;
  p.client_tsval = seg.options.ts_val;
  p.cookie_tsval = seg.options.ts_ecr;
  p.client_window = seg.window;
  p.client_wscale = o.wscale;
  p.announced_wscale = o.our_wscale;
  p.flags = static_cast<std::uint16_t>(
      (ts ? kPxClientTs | kPxAnnouncedTs : 0) | (o.has_wscale ? kPxClientWs : 0) |
      (o.has_our_wscale ? kPxAnnouncedWs : 0) | (o.sack_permitted ? kPxClientSack : 0) |
      (o.ecn ? kPxClientEcn : 0) | (cfg_.protection.proxy.hold_with_zero_window ? kPxHeld : 0));
  // The client's RTT, from our SYN-ACK's timestamp to this ACK.
  std::int64_t rtt_us = -1;
  if (ts) {
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
    rtt_us = rt.client_rtt_us > 0 ? static_cast<std::int64_t>(rt.client_rtt_us)
                                  : std::chrono::duration_cast<std::chrono::microseconds>(
                                        cfg_.protection.proxy.default_client_rtt)
                                        .count();
  }
  p.client_rtt_us = static_cast<std::uint32_t>(rtt_us);

  // The tracker sees the handshake the client saw, in the client's sequence space: its SYN,
  // our SYN-ACK, then this ACK.
  const bool client_ws_on = o.has_wscale && o.has_our_wscale;
  Segment syn = seg;
  syn.flags = kSyn;
  syn.seq = seg.seq - 1;
  syn.ack = SeqNum{0};
  syn.payload_len = 0;
  syn.options = TcpOptions{};
  syn.options.has_mss = true;
  syn.options.mss = chk.mss;
  syn.options.has_wscale = o.has_wscale;
  syn.options.wscale = o.wscale;
  syn.options.sack_permitted = o.sack_permitted;
  syn.options.has_timestamps = ts;
  syn.window = rescaleWindow(seg.window, client_ws_on ? o.wscale : 0, 0);
  ++c.pkts[0];
  observeSegment(c, true, syn);
  track(idx, true, syn, tick, nullptr);
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
  track(idx, false, synack, tick, nullptr);
  ++c.pkts[0];
  observeSegment(c, true, seg);
  track(idx, true, seg, tick, nullptr);

  sendServerSyn(p, c);
  proxies_->notePhase(ProxyPhase::kFree, ProxyPhase::kSynSent);
  p.phase = ProxyPhase::kSynSent;
  p.last_syn = tick;
  p.deadline = tick + static_cast<std::uint32_t>(cfg_.protection.proxy.server_timeout.count());
  proxies_->schedule(pidx, p.deadline);

  if (seg.payload_len > 0 || seg.has(kFin)) {
    // RFC 9293 §3.5: the final ACK may carry data. Keep it for the server.
    if (proxies_->keepEarly(pidx, packet, cfg_.protection.proxy.early_segments_per_connection)) {
      ++stats_.proxy_early_kept;
    } else {
      ++stats_.proxy_early_dropped;
    }
    return Verdict::drop(VerdictReason::kProxyHeld);
  }
  return Verdict::drop(VerdictReason::kProxyHandshake);
}

void Engine::sendServerSyn(ProxyEntry& p, const Connection& c) noexcept {
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

void Engine::sendServerAck(const ProxyEntry& p, const Connection& c) noexcept {
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

void Engine::completeProxy(std::uint32_t pidx, std::uint32_t tick) noexcept {
  ProxyEntry& p = proxies_->at(pidx);
  const std::uint32_t idx = p.conn;
  sendServerAck(p, table_->at(idx));
  if (p.has(kPxHeld)) {
    // Release the client: a window update (RFC 9293 §3.10.7.4: SND.WL1 < SEG.SEQ) with the
    // window the server offered, as the client reads it.
    const Connection& c = table_->at(idx);
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
      track(idx, false, s, tick, nullptr);
    }
  }
  proxies_->notePhase(p.phase, ProxyPhase::kEstablished);
  p.phase = ProxyPhase::kEstablished;
  ++stats_.proxy_completed;
  proxies_->drainEarly(pidx, [&](std::span<std::byte> pkt) {
    Segment s;
    if (parseSegment(pkt, s) == ParseError::kNone) {
      translateToServer(pkt, s, p.tr, true);  // full checksum: it may have arrived partial
      ++stats_.translated[0];
      sink_->emit(Direction::kToServer, pkt);
    }
  });
}

void Engine::abortProxy(std::uint32_t pidx, bool rst_client, bool rst_server,
                        std::uint32_t tick) noexcept {
  ProxyEntry& p = proxies_->at(pidx);
  const std::uint32_t idx = p.conn;
  Connection& c = table_->at(idx);
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
  c.ep[0].state = TcpState::kClosed;
  c.ep[1].state = TcpState::kClosed;
  setState(c, TcpState::kClosed);
  table_->touch(idx, listFor(c), tick);
  c.flags = static_cast<std::uint8_t>(c.flags & ~kConnProxied);
  c.setProxyEntry(kNoIndex);
  releaseProxy(pidx);
}

void Engine::releaseProxy(std::uint32_t pidx) noexcept {
  ProxyEntry& p = proxies_->at(pidx);
  if (p.source != kNoIndex) {
    half_open_->sources().removeProxied(p.source);
    p.source = kNoIndex;
  }
  proxies_->release(pidx);
}

void Engine::reapHalfOpen(std::uint32_t tick) noexcept {
  const auto after = static_cast<std::int64_t>(cfg_.protection.reap_half_open_after.count());
  if (after <= 0 || runtime_.empty()) {
    return;
  }
  bool any_cookie = false;
  for (const ServiceRuntime& rt : runtime_) {
    any_cookie = any_cookie || rt.mode.mode() == ServiceMode::kCookie;
  }
  if (!any_cookie) {
    return;
  }
  // The lists are ordered by last packet: walk from the oldest while old enough, a bounded
  // number of entries per tick. Entries of services not in cookie mode are stepped over.
  std::size_t budget = cfg_.protection.reap_per_tick;
  {
    // SYN-RECEIVED only: the server answered, so it holds the connection in its SYN queue.
    std::uint32_t idx = table_->head(ConnectionTable::listOf(TcpState::kSynReceived));
    std::size_t scanned = 0;
    while (idx != kNoIndex && budget > 0 && scanned < 4 * cfg_.protection.reap_per_tick) {
      ++scanned;
      Connection& c = table_->at(idx);
      const std::uint32_t next = c.lru_next;
      if (static_cast<std::int32_t>(tick - c.last_seen) < after) {
        break;
      }
      const std::uint32_t svc = services_.find(c.key.resp_addr, c.key.resp_port);
      if (svc != ServiceMap::kNone && (c.flags & kConnSynSeen) != 0 &&
          (c.flags & kConnProxied) == 0 && runtime_[svc].mode.mode() == ServiceMode::kCookie &&
          !monitoring(svc)) {
        // RFC 9293 §3.10.7.4: a RST whose sequence number is the server's RCV.NXT (the
        // client's ISN + 1) ends a SYN-RECEIVED connection at once.
        TcpOut o = segmentOn(c.key, true);
        o.seq = SeqNum{c.ep[0].end};
        o.flags = kRst;
        emit(Direction::kToServer, o);
        ++stats_.half_open_reaped;
        --budget;
        endConnection(idx, EndCause::kReaped);
      }
      idx = next;
    }
  }
}

void Engine::runProxyDeadlines(std::uint32_t tick) noexcept {
  std::uint32_t pidx = 0;
  std::uint32_t due = 0;
  while (proxies_->popDue(tick, pidx, due)) {
    const ProxyEntry& p = proxies_->at(pidx);
    if (p.deadline != due) {
      continue;  // superseded
    }
    switch (p.phase) {
      case ProxyPhase::kSynSent:
        ++stats_.proxy_server_timeout;
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

std::optional<MonotonicTime> Engine::nextDeadline() const noexcept {
  std::uint32_t tick = 0;
  if (!started_ || !proxies_->nextDeadline(tick)) {
    return std::nullopt;
  }
  const auto ahead = static_cast<std::int32_t>(tick - tickOf(latest_));
  return latest_ + std::chrono::milliseconds(std::max(ahead, 0));
}

Verdict Engine::proxied(std::uint32_t idx, bool from_orig, Segment& seg,
                        std::span<const std::byte> packet, std::byte* writable,
                        const PacketMeta& meta, std::uint32_t tick) noexcept {
  Connection& c = table_->at(idx);
  const std::uint32_t pidx = c.proxyEntry();
  ProxyEntry& p = proxies_->at(pidx);
  const std::span<std::byte> bytes =
      writable != nullptr ? std::span<std::byte>(writable, packet.size()) : std::span<std::byte>();
  const auto drop = [](VerdictReason r) { return Verdict::drop(r); };
  const auto pass = [&]() {
    Verdict v = Verdict::accept(VerdictReason::kProxied);
    v.rewritten = writable != nullptr;
    return v;
  };

  if (from_orig) {
    // RFC 5961 §3.2: only a RST at the client's next sequence number may end the handshake; a
    // blind guess must not make us reset a connection the server has not even accepted yet.
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
    track(idx, true, seg, tick, nullptr);  // in the client's sequence space
    switch (p.phase) {
      case ProxyPhase::kEstablished:
        translateToServer(bytes, seg, p.tr, meta.checksum_partial);
        ++stats_.translated[0];
        return pass();
      case ProxyPhase::kSynSent:
      case ProxyPhase::kAckDelayed: {
        if (seg.has(kRst)) {
          if (!rst_exact) {
            ++stats_.proxy_rst_ignored;
            return drop(VerdictReason::kProxyHandshake);
          }
          ++stats_.proxy_client_aborted;
          abortProxy(pidx, false, true, tick);
          return drop(VerdictReason::kProxyHandshake);
        }
        const bool kept_phase_syn = p.phase == ProxyPhase::kSynSent;
        if (kept_phase_syn &&
            static_cast<std::int32_t>(tick - p.last_syn) >=
                static_cast<std::int32_t>(cfg_.protection.proxy.syn_resend_interval.count())) {
          // The client is retrying and the server has not answered: retry the server too.
          sendServerSyn(p, c);
          p.last_syn = tick;
          ++stats_.proxy_syn_resent;
        }
        if (seg.payload_len > 0 || seg.has(kFin)) {
          if (proxies_->keepEarly(pidx, packet,
                                  cfg_.protection.proxy.early_segments_per_connection)) {
            ++stats_.proxy_early_kept;
          } else {
            ++stats_.proxy_early_dropped;
          }
          return drop(VerdictReason::kProxyHeld);
        }
        ++stats_.proxy_duplicate_acks;
        return drop(VerdictReason::kProxyHandshake);
      }
      case ProxyPhase::kFree:
        break;
    }
    return drop(VerdictReason::kProxyHandshake);
  }

  // Server -> client.
  switch (p.phase) {
    case ProxyPhase::kSynSent:
      if (seg.has(kSyn) && seg.has(kAck)) {
        if (seg.ack.raw() != p.client_isn + 1) {
          ++stats_.invalid[static_cast<std::size_t>(InvalidReason::kSynAckBadAck)];
          return drop(VerdictReason::kProxyHandshake);
        }
        p.server_isn = seg.seq.raw();
        p.server_tsval = seg.options.ts_val;
        p.server_window = seg.window;
        p.server_wscale = std::min<std::uint8_t>(seg.options.wscale, kMaxWindowScale);
        p.flags = static_cast<std::uint16_t>(
            p.flags | (seg.options.has_timestamps ? kPxServerTs : 0) |
            (seg.options.has_wscale ? kPxServerWs : 0) |
            (seg.options.sack_permitted ? kPxServerSack : 0) | (seg.has(kEce) ? kPxServerEcn : 0));
        const bool client_ws_on = p.has(kPxClientWs) && p.has(kPxAnnouncedWs);
        const bool server_ws_on = client_ws_on && p.has(kPxServerWs);
        p.tr.seq_delta = p.server_isn - p.cookie_isn;
        p.tr.ts_off =
            p.has(kPxServerTs) && p.has(kPxClientTs) ? p.cookie_tsval - p.server_tsval : 0U;
        p.tr.client_shift_c = client_ws_on ? p.client_wscale : 0;
        p.tr.client_shift_s = server_ws_on ? p.client_wscale : 0;
        p.tr.server_shift_s = server_ws_on ? p.server_wscale : 0;
        p.tr.server_shift_c = client_ws_on ? p.announced_wscale : 0;
        learnFrom(p.service, seg);
        // Delay our ACK by the client's RTT so the server measures the whole path's RTT,
        // not the microseconds to us (a BBR server would otherwise crawl).
        const auto max_ms = static_cast<std::uint32_t>(cfg_.protection.proxy.max_ack_delay.count());
        const std::uint32_t delay_ms = std::min((p.client_rtt_us + 500) / 1000, max_ms);
        if (delay_ms == 0) {
          completeProxy(pidx, tick);
        } else {
          proxies_->notePhase(p.phase, ProxyPhase::kAckDelayed);
          p.phase = ProxyPhase::kAckDelayed;
          p.deadline = tick + delay_ms;
          proxies_->schedule(pidx, p.deadline);
          ++stats_.proxy_ack_delayed;
        }
        return drop(VerdictReason::kProxyHandshake);
      }
      if (seg.has(kRst) && seg.has(kAck) && seg.ack.raw() == p.client_isn + 1) {
        ++stats_.proxy_refused;  // RFC 9293 §3.10.7.3: a RST that ACKs our SYN is acceptable
        abortProxy(pidx, true, false, tick);
      }
      return drop(VerdictReason::kProxyHandshake);
    case ProxyPhase::kAckDelayed:
      if (seg.has(kRst) && seg.seq.raw() == p.server_isn + 1) {
        ++stats_.proxy_refused;
        abortProxy(pidx, true, false, tick);
      }
      return drop(VerdictReason::kProxyHandshake);  // e.g. its SYN-ACK retransmitted
    case ProxyPhase::kEstablished:
      if (seg.has(kSyn) && seg.has(kAck)) {
        // Our ACK was lost and the server retransmits its SYN-ACK: ACK it again.
        if (seg.seq.raw() == p.server_isn) {
          sendServerAck(p, c);
        }
        return drop(VerdictReason::kProxyHandshake);
      }
      translateToClient(bytes, seg, p.tr, meta.checksum_partial);
      ++stats_.translated[1];
      observeSegment(c, false, seg);
      track(idx, false, seg, tick, nullptr);
      return pass();
    case ProxyPhase::kFree:
      break;
  }
  return drop(VerdictReason::kProxyHandshake);
}

}  // namespace synguard::engine
