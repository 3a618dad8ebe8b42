// The protection stage: per-service adaptive modes, SYN cookies, deny and allow lists and
// per-source limits decide what may open a connection; the proxy (protector_proxy.cc) and ICMP
// errors (protector_icmp.cc) follow in their own files.

#include "engine/protect/protector.h"

#include <algorithm>

#include "engine/packet/checksum.h"
#include "engine/track/outcome.h"
#include "engine/track/window.h"

namespace synguard::engine {

namespace {

constexpr std::uint8_t kProtoTcpNumber = 6;

/// RFC 9293 §3.7.1: without an MSS option the peer assumes 536 (IPv4) / 1220 (IPv6, RFC 8200).
constexpr std::uint16_t kDefaultMssV4 = 536;
constexpr std::uint16_t kDefaultMssV6 = 1220;

}  // namespace

TcpOut Protector::segmentOn(const FlowKey& k, bool to_server) noexcept {
  TcpOut o;
  o.src = to_server ? k.orig_addr : k.resp_addr;
  o.dst = to_server ? k.resp_addr : k.orig_addr;
  o.src_port = to_server ? k.orig_port : k.resp_port;
  o.dst_port = to_server ? k.resp_port : k.orig_port;
  return o;
}

Protector::Protector(const ProtectionConfig& cfg, const SipKey& master_key, PacketSink& sink,
                     ConnectionObserver* observer, ServiceMap services,
                     std::vector<ServiceRuntime> runtime)
    : cfg_(cfg),
      master_key_(master_key),
      sink_(&sink),
      observer_(observer),
      services_(std::move(services)),
      runtime_(std::move(runtime)),
      proxies_(
          std::make_unique<ProxyTable>(runtime_.empty() ? 1 : cfg.proxy.capacity,
                                       runtime_.empty() ? 0 : cfg.proxy.early_segment_buffers)),
      cookies_(cfg.cookies, CookieKeys{}) {}

Result<void> Protector::reconfigure(const ProtectionConfig& next) {
  auto services = ServiceMap::create(next.services);
  if (!services) {
    return Unexpected{services.error()};
  }
  // Services are matched by name: a kept service keeps its mode, hold, rates, counters and
  // learned server profile; a new one starts fresh.
  std::vector<ServiceRuntime> runtime;
  std::vector<std::uint32_t> old_to_new(runtime_.size(), kNoIndex);
  for (std::size_t n = 0; n < next.services.size(); ++n) {
    const ServiceConfig& sc = next.services[n];
    std::size_t o = 0;
    while (o < runtime_.size() && cfg_.services[o].name != sc.name) {
      ++o;
    }
    if (o < runtime_.size()) {
      auto mode = runtime_[o].mode.reconfigured(sc.mode, sc.thresholds);
      if (!mode) {
        return Unexpected{Error{"service '" + sc.name + "': " + mode.error().message}};
      }
      runtime.push_back(runtime_[o]);
      runtime.back().mode = *mode;
      runtime.back().half_open = 0;  // recounted below: its addresses may have changed
      old_to_new[o] = static_cast<std::uint32_t>(n);
    } else {
      auto mode = AdaptiveMode::create(sc.mode, sc.thresholds);
      if (!mode) {
        return Unexpected{Error{"service '" + sc.name + "': " + mode.error().message}};
      }
      runtime.emplace_back(*mode);
    }
  }
  // Valid: apply. Half-open counts per service follow the new address map; proxied
  // connections follow their service's new index.
  services_ = std::move(*services);
  runtime_ = std::move(runtime);
  const ConnectionTable& table = tracker_->table();
  for (std::uint32_t i = 0; i < table.capacity(); ++i) {
    const Connection& c = table.at(i);
    if (c.in_use == 0) {
      continue;
    }
    if ((c.flags & kConnHalfOpenCounted) != 0) {
      const std::uint32_t svc = services_.find(c.key.resp_addr, c.key.resp_port);
      if (svc != ServiceMap::kNone) {
        ++runtime_[svc].half_open;
      }
    }
    if ((c.flags & kConnProxied) != 0) {
      ProxyEntry& p = proxies_->at(c.proxyEntry());
      p.service = p.service < old_to_new.size() ? old_to_new[p.service] : kNoIndex;
    }
  }
  cfg_ = next;
  return {};
}

void Protector::onHalfOpenEntered(const Connection& c) noexcept {
  if (runtime_.empty()) {
    return;
  }
  const std::uint32_t svc = services_.find(c.key.resp_addr, c.key.resp_port);
  if (svc != ServiceMap::kNone) {
    ServiceRuntime& rt = runtime_[svc];
    rt.peak_half_open = std::max(rt.peak_half_open, ++rt.half_open);
    // The threshold may be this connection.
    updateMode(svc, tracker_->latestTick(), tracker_->latest());
  }
}

void Protector::onHalfOpenLeft(const Connection& c) noexcept {
  if (runtime_.empty()) {
    return;
  }
  const std::uint32_t svc = services_.find(c.key.resp_addr, c.key.resp_port);
  if (svc == ServiceMap::kNone) {
    return;
  }
  ServiceRuntime& rt = runtime_[svc];
  if (rt.half_open > 0) {
    --rt.half_open;
  }
  if (c.state == TcpState::kEstablished) {
    ++rt.handshakes_completed;
  }
}

void Protector::onConnectionEnd(Connection& c, EndCause cause) noexcept {
  if ((c.flags & kConnProxied) != 0) {
    releaseProxy(c.proxyEntry());
    c.flags = static_cast<std::uint8_t>(c.flags & ~kConnProxied);
    c.setProxyEntry(kNoIndex);
  }
  if (observer_ != nullptr) {
    observer_->onConnectionEnd(c, cause);
  }
}

void Protector::updateModes(std::uint32_t tick, MonotonicTime now) noexcept {
  for (std::uint32_t s = 0; s < runtime_.size(); ++s) {
    updateMode(s, tick, now);
  }
}

std::optional<Verdict> Protector::screenSlow(std::uint32_t svc, const Segment& seg,
                                             std::span<const std::byte> packet, bool syn,
                                             bool checksum_unverified) noexcept {
  if (!cfg_.deny.empty() && cfg_.deny.contains(seg.src)) {
    if (const Verdict v = dropOrWould(svc, VerdictReason::kDenied); v.action == Action::kDrop) {
      return v;
    }
  }
  // (A first fragment's checksum covers the whole datagram: it cannot be verified here.)
  if (syn && checksum_unverified && !seg.first_fragment && seg.ip_length <= packet.size() &&
      tcpChecksum(packet.first(seg.ip_length), seg.tcp_offset, seg.ip_length - seg.tcp_offset) !=
          0) {
    // A corrupt SYN: the server would drop it; answering it (a cookie) or tracking it (a
    // half-open connection that never completes) would only serve whoever sent it.
    ++stats_->parse_errors[static_cast<std::size_t>(ParseError::kBadChecksum)];
    if (const Verdict v = dropOrWould(svc, VerdictReason::kMalformed); v.action == Action::kDrop) {
      return v;
    }
  }
  return std::nullopt;
}

std::optional<Verdict> Protector::fromServerSide(const Segment& seg) noexcept {
  if (const std::uint32_t from = services_.find(seg.src, seg.src_port);
      from != ServiceMap::kNone && cfg_.services[from].mode != ProtectionMode::kOff &&
      runtime_[from].mode.mode() == ServiceMode::kCookie) {
    if (const Verdict v = dropOrWould(from, VerdictReason::kServerSide);
        v.action == Action::kDrop) {
      return v;
    }
  }
  return std::nullopt;
}

bool Protector::monitoring(std::uint32_t svc) const noexcept {
  return cfg_.dry_run || cfg_.services[svc].monitor;
}

Verdict Protector::dropOrWould(std::uint32_t svc, VerdictReason r) noexcept {
  if (monitoring(svc)) {
    ++stats_->would_drop[static_cast<std::size_t>(r)];
    ++runtime_[svc].would_drop;
    return Verdict::accept(r);  // the caller goes on as if nothing was decided
  }
  return Verdict::drop(r);
}

void Protector::localLoad(std::size_t svc, std::uint32_t& half_open, double& syn_rate) noexcept {
  ServiceRuntime& rt = runtime_[svc];
  half_open = rt.half_open;
  // The smoothed rate lags a sudden flood by a second or more; the window now open does not.
  syn_rate = std::max(rt.syn_rate.rate(tracker_->latestTick()),
                      static_cast<double>(rt.syn_rate.currentWindowCount()));
}

void Protector::noteOffloadedSyns(std::uint32_t svc, std::uint32_t n, std::uint32_t tick,
                                  MonotonicTime now) noexcept {
  ServiceRuntime& rt = runtime_[svc];
  rt.syns += n;
  rt.syn_rate.add(tick, n);
  stats_->cookies_sent += n;
  rt.cookies_sent += n;
  updateMode(svc, tick, now);
}

void Protector::updateMode(std::uint32_t svc, std::uint32_t tick, MonotonicTime now) noexcept {
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
    ++stats_->mode_changes;
    ++rt.mode_changes;
    rt.last_change = change;
    if (observer_ != nullptr) {
      observer_->onModeChange(svc, *change);
    }
  }
}

void Protector::readWall(const Clock& clock) noexcept {
  wall_ = clock.wall();
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(wall_);
  if (secs == cookie_time_ && key_period_ >= 0) {
    return;  // same second: same counter, same keys
  }
  cookie_time_ = secs;
  cookie_counter_ = cookies_.counterOf(secs);
  const std::int64_t period = cookie_time_.count() / cfg_.key_rotation.count();
  if (period != key_period_) {
    if (key_period_ >= 0) {
      ++stats_->key_rotations;
    }
    key_period_ = period;
    const SipKey& master = master_key_;
    cookies_.setKeys(CookieKeys{deriveCookieKey(master, static_cast<std::uint64_t>(period)),
                                deriveCookieKey(master, static_cast<std::uint64_t>(period - 1)),
                                true});
  }
}

std::uint32_t Protector::cookieTsNow() const noexcept {
  // Microseconds of wall time: the low kCookieTsBits carry options, so the echo measures the
  // client's RTT to about a millisecond. Only our SYN-ACK carries this clock; afterwards the
  // client sees the server's clock, shifted to continue from it (Translation::ts_off).
  return static_cast<std::uint32_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(wall_).count());
}

ServerProfile Protector::profileFor(std::uint32_t svc) const noexcept {
  ServerProfile p = runtime_[svc].profile;
  const ServiceConfig& sc = cfg_.services[svc];
  if (sc.mss_override) {
    p.mss = *sc.mss_override;
  }
  if (sc.wscale_override) {
    p.has_wscale = *sc.wscale_override <= kMaxWindowScale;
    p.wscale = std::min<std::uint8_t>(*sc.wscale_override, kMaxWindowScale);
  }
  return p;
}

void Protector::learnFrom(std::uint32_t svc, const Segment& s) noexcept {
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
    ++stats_->learned_profiles;
    p = next;
  }
}

void Protector::learnProfile(const Connection& c, const Segment& synack) noexcept {
  const std::uint32_t svc = services_.find(c.key.resp_addr, c.key.resp_port);
  if (svc != ServiceMap::kNone) {
    learnFrom(svc, synack);
  }
}

void Protector::emit(Direction dir, const TcpOut& seg) noexcept {
  // Written straight into the sink's send buffer when it offers one (no copy).
  if (const std::span<std::byte> room = sink_->reserve(!seg.src.isV4(), kMaxWrittenPacket);
      room.size() >= kMaxWrittenPacket) {
    sink_->commit(dir, writeTcpPacket(seg, room.data()));
    return;
  }
  const std::size_t n = writeTcpPacket(seg, out_);
  sink_->emit(dir, std::span<const std::byte>(out_.data(), n));
}

std::optional<Verdict> Protector::admitSyn(std::uint32_t svc, const FlowKey& tuple,
                                           const Segment& seg,
                                           const HalfOpenAccounting::SynRefs& refs,
                                           std::uint32_t tick, MonotonicTime now,
                                           const Clock& clock) noexcept {
  ServiceRuntime& rt = runtime_[svc];
  const ServiceConfig& sc = cfg_.services[svc];
  ++rt.syns;
  rt.syn_rate.add(tick);
  updateMode(svc, tick, now);
  if (sc.mode == ProtectionMode::kOff) {
    return std::nullopt;
  }
  if (!cfg_.allow.empty() && cfg_.allow.contains(seg.src)) {
    return std::nullopt;  // trusted: no cookie, no limits
  }
  const bool cookie = rt.mode.mode() == ServiceMode::kCookie;
  if (const auto v = limitSource(svc, refs, cookie, now)) {
    return v;
  }
  if (!cookie) {
    return std::nullopt;
  }
  if (monitoring(svc)) {
    ++stats_->would_cookie;
    ++rt.would_cookie;
    return std::nullopt;
  }
  // Answer with a cookie: no state is kept for this SYN.
  readWall(clock);
  sendCookie(svc, tuple, seg);
  ++stats_->cookies_sent;
  ++rt.cookies_sent;
  return Verdict::drop(VerdictReason::kCookieSent);
}

std::optional<Verdict> Protector::limitSource(std::uint32_t svc,
                                              const HalfOpenAccounting::SynRefs& refs, bool cookie,
                                              MonotonicTime now) noexcept {
  const SourceLimits& lim = cfg_.services[svc].per_source;
  HalfOpenAccounting& half_open = tracker_->halfOpen();
  // Every source beyond the accounting's capacity shares its overflow entry: limiting that
  // entry would limit all of them at once, which is what a spoofed flood filling the table
  // wants. Those sources go unlimited (counted); cookie mode still holds them.
  const bool shared = refs.source == CounterTable::kOverflow;
  if (shared && (lim.syn_rate != 0 || lim.max_half_open != 0)) {
    ++stats_->source_limit_overflow;
  }
  const bool limited = refs.source != kNoIndex && !shared;
  if (lim.syn_rate != 0 && limited) {
    CounterEntry& e = half_open.sources().at(refs.source);
    if (!e.bucket.take(now, lim.syn_rate, lim.syn_burst != 0 ? lim.syn_burst : lim.syn_rate)) {
      if (const Verdict v = dropOrWould(svc, VerdictReason::kSourceRate);
          v.action == Action::kDrop) {
        return v;
      }
    }
  }
  if (!cookie && lim.max_half_open != 0 && limited &&
      half_open.sources().at(refs.source).half_open >= lim.max_half_open) {
    if (const Verdict v = dropOrWould(svc, VerdictReason::kSourceHalfOpen);
        v.action == Action::kDrop) {
      return v;
    }
  }
  return std::nullopt;
}

void Protector::sendCookie(std::uint32_t svc, const FlowKey& tuple, const Segment& seg) noexcept {
  const ServerProfile prof = profileFor(svc);
  const bool v4 = seg.ip_version == 4;
  const std::uint16_t client_mss =
      seg.options.has_mss ? seg.options.mss : (v4 ? kDefaultMssV4 : kDefaultMssV6);
  const SynCookies::Made made = cookies_.make(tuple, seg.seq, client_mss, cookie_counter_);
  TcpOut o = segmentOn(tuple, false);  // the answer to the client, from the service
  o.seq = made.isn;
  o.ack = seg.seq + 1;
  o.flags = kSyn | kAck;
  o.window = cfg_.proxy.hold_with_zero_window ? std::uint16_t{0} : std::uint16_t{65535};
  o.mss = prof.mss != 0 ? prof.mss : (v4 ? cfg_.default_mss_v4 : cfg_.default_mss_v6);
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
}

std::optional<Verdict> Protector::admitStray(std::uint32_t svc) noexcept {
  if (cfg_.services[svc].mode == ProtectionMode::kOff ||
      runtime_[svc].mode.mode() != ServiceMode::kCookie) {
    return std::nullopt;
  }
  if (const Verdict v = dropOrWould(svc, VerdictReason::kNoConnection); v.action == Action::kDrop) {
    return v;
  }
  return std::nullopt;
}

std::optional<Verdict> Protector::admitFirstFragment(std::uint32_t svc) noexcept {
  if (cfg_.services[svc].mode == ProtectionMode::kOff ||
      runtime_[svc].mode.mode() != ServiceMode::kCookie) {
    return std::nullopt;
  }
  if (const Verdict v = dropOrWould(svc, VerdictReason::kFragmentNoConnection);
      v.action == Action::kDrop) {
    return v;
  }
  return std::nullopt;
}

std::optional<Verdict> Protector::admitUnsafeFragment(const Segment& seg) noexcept {
  // No port to match: every protected service on the address decides, whatever its mode.
  for (std::uint32_t svc = 0; svc < runtime_.size(); ++svc) {
    const ServiceConfig& sc = cfg_.services[svc];
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

std::optional<Verdict> Protector::admitFragment(const Segment& seg) noexcept {
  // IPv6: the fragmented part may begin with extension headers before its TCP header.
  const bool tcp =
      seg.ip_version == 4 ? seg.frag_proto == kProtoTcpNumber : fragmentMayBeTcp(seg.frag_proto);
  if (!tcp || runtime_.empty()) {
    return std::nullopt;
  }
  // Later fragments carry no port: any service on the address in cookie mode decides.
  for (std::uint32_t svc = 0; svc < runtime_.size(); ++svc) {
    const ServiceConfig& sc = cfg_.services[svc];
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

void Protector::reapHalfOpen(std::uint32_t tick) noexcept {
  const auto after = static_cast<std::int64_t>(cfg_.reap_half_open_after.count());
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
  std::size_t budget = cfg_.reap_per_tick;
  {
    // SYN-RECEIVED only: the server answered, so it holds the connection in its SYN queue.
    std::uint32_t idx = tracker_->table().head(ConnectionTable::listOf(TcpState::kSynReceived));
    std::size_t scanned = 0;
    while (idx != kNoIndex && budget > 0 && scanned < 4 * cfg_.reap_per_tick) {
      ++scanned;
      Connection& c = tracker_->at(idx);
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
        ++stats_->half_open_reaped;
        --budget;
        tracker_->end(idx, EndCause::kReaped);
      }
      idx = next;
    }
  }
}

}  // namespace synguard::engine
