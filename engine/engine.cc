#include "engine/engine.h"

#include <algorithm>
#include <array>

#include "engine/limits.h"
#include "engine/packet/checksum.h"
#include "engine/track/outcome.h"
#include "engine/track/window.h"
#include "engine/verdict_counter.h"

namespace synguard::engine {

namespace {

/// Flag combinations no conforming TCP sends (conntrack's tcp_valid_flags, RFC 9293 §3.10.7):
/// SYN with FIN or RST, FIN without ACK (FIN/Xmas scans), and segments with none of
/// SYN/ACK/RST (NULL scans). RST may come with or without ACK.
bool validFlags(std::uint8_t f) noexcept {
  const bool syn = (f & kSyn) != 0;
  const bool fin = (f & kFin) != 0;
  const bool rst = (f & kRst) != 0;
  const bool ack = (f & kAck) != 0;
  if (syn && (fin || rst)) {
    return false;
  }
  if (rst) {
    return !fin;
  }
  if (fin && !ack) {
    return false;
  }
  return syn || ack;
}

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

namespace {

/// What create() and reconfigure() both require of a configuration.
Result<void> validate(const EngineConfig& cfg) {
  if (cfg.table_capacity == 0 || cfg.table_capacity > kMaxTableCapacity) {
    return Unexpected{Error{"table capacity must be between 1 and 2^31"}};
  }
  if (!(cfg.emergency.leave_fill < cfg.emergency.enter_fill) || cfg.emergency.enter_fill > 1.0 ||
      cfg.emergency.leave_fill < 0.0) {
    return Unexpected{Error{"emergency fill marks need 0 <= leave < enter <= 1"}};
  }
  for (const Timeouts* t : {&cfg.timeouts, &cfg.emergency.timeouts}) {
    for (auto s : {TcpState::kSynSent, TcpState::kSynReceived, TcpState::kEstablished,
                   TcpState::kFinWait1, TcpState::kCloseWait, TcpState::kClosing,
                   TcpState::kLastAck, TcpState::kTimeWait, TcpState::kClosed}) {
      if (t->forState(s) <= std::chrono::milliseconds(0) || t->forState(s) > kMaxTimeout) {
        return Unexpected{Error{std::string("timeout for ") + std::string(toString(s)) +
                                " must be between 1 ms and 20 days"}};
      }
    }
  }
  if (!(cfg.assured_reserve >= 0.0 && cfg.assured_reserve <= 0.9)) {
    return Unexpected{Error{"assured reserve must be between 0 and 0.9"}};
  }
  for (const Timeouts* t : {&cfg.timeouts, &cfg.emergency.timeouts}) {
    if (t->unassured <= std::chrono::milliseconds(0) || t->unassured > kMaxTimeout) {
      return Unexpected{Error{"unassured timeout must be between 1 ms and 20 days"}};
    }
  }
  if (cfg.half_open.source_prefix_v4 > 32 || cfg.half_open.source_prefix_v6 > 128) {
    return Unexpected{Error{"source prefix length out of range"}};
  }
  const ProtectionConfig& pc = cfg.protection;
  if (pc.cookies.window.count() <= 0 || pc.key_rotation.count() <= 0) {
    return Unexpected{Error{"cookie window and key rotation period must be positive"}};
  }
  for (const MssTable* t : {&pc.cookies.v4, &pc.cookies.v6}) {
    if (t->size == 0 || t->size > kMaxMssValues ||
        !std::is_sorted(t->values.begin(), t->values.begin() + t->size)) {
      return Unexpected{Error{"MSS tables need 1 to 8 ascending entries"}};
    }
  }
  if (pc.proxy.capacity == 0 || pc.proxy.capacity > kMaxProxyCapacity) {
    return Unexpected{Error{"proxy capacity must be between 1 and 2^26"}};
  }
  if (pc.proxy.server_timeout <= std::chrono::milliseconds(0) ||
      pc.proxy.max_ack_delay < std::chrono::milliseconds(0) ||
      pc.proxy.max_ack_delay >= pc.proxy.server_timeout) {
    return Unexpected{Error{"proxy: need 0 <= max ACK delay < server timeout"}};
  }
  return {};
}

}  // namespace

Result<Engine> Engine::create(const EngineConfig& cfg, const Secrets& secrets, Clock& clock,
                              PacketSink& sink, ConnectionObserver* observer) {
  if (auto ok = validate(cfg); !ok) {
    return Unexpected{ok.error()};
  }
  const ProtectionConfig& pc = cfg.protection;
  auto services = ServiceMap::create(pc.services);
  if (!services) {
    return Unexpected{services.error()};
  }
  std::vector<ServiceRuntime> runtime;
  for (const ServiceConfig& s : pc.services) {
    auto mode = AdaptiveMode::create(s.mode, s.thresholds);
    if (!mode) {
      return Unexpected{Error{"service '" + s.name + "': " + mode.error().message}};
    }
    runtime.emplace_back(*mode);
  }
  return Engine(cfg, secrets, clock, sink, observer, std::move(*services), std::move(runtime));
}

Engine::Engine(const EngineConfig& cfg, const Secrets& secrets, Clock& clock, PacketSink& sink,
               ConnectionObserver* observer, ServiceMap services,
               std::vector<ServiceRuntime> runtime)
    : cfg_(cfg),
      secrets_(secrets),
      clock_(&clock),
      sink_(&sink),
      observer_(observer),
      table_(std::make_unique<ConnectionTable>(cfg.table_capacity, secrets.hash_seed)),
      half_open_(std::make_unique<HalfOpenAccounting>(cfg.half_open, secrets.hash_seed)),
      services_(std::move(services)),
      runtime_(std::move(runtime)),
      proxies_(std::make_unique<ProxyTable>(
          runtime_.empty() ? 1 : cfg.protection.proxy.capacity,
          runtime_.empty() ? 0 : cfg.protection.proxy.early_segment_buffers)),
      cookies_(cfg.protection.cookies, CookieKeys{}) {
  const auto cap = static_cast<double>(table_->capacity());
  emergency_enter_ = static_cast<std::size_t>(cap * cfg_.emergency.enter_fill);
  emergency_leave_ = static_cast<std::size_t>(cap * cfg_.emergency.leave_fill);
  unassured_cap_ = table_->capacity() - static_cast<std::size_t>(cap * cfg_.assured_reserve);
}

Result<void> Engine::check(const EngineConfig& cfg) {
  if (auto ok = validate(cfg); !ok) {
    return ok;
  }
  if (auto services = ServiceMap::create(cfg.protection.services); !services) {
    return Unexpected{services.error()};
  }
  for (const ServiceConfig& s : cfg.protection.services) {
    if (auto mode = AdaptiveMode::create(s.mode, s.thresholds); !mode) {
      return Unexpected{Error{"service '" + s.name + "': " + mode.error().message}};
    }
  }
  return {};
}

EngineConfig Engine::keptOnReload(const EngineConfig& next, const EngineConfig& running) {
  // What sizes the memory allocated at start, or what the connections already depend on,
  // stays: the caller reports those as needing a restart.
  EngineConfig cfg = next;
  cfg.table_capacity = running.table_capacity;
  cfg.half_open = running.half_open;
  cfg.protection.cookies = running.protection.cookies;
  cfg.protection.key_rotation = running.protection.key_rotation;
  cfg.protection.proxy.capacity = running.protection.proxy.capacity;
  cfg.protection.proxy.early_segment_buffers = running.protection.proxy.early_segment_buffers;
  return cfg;
}

Result<void> Engine::reconfigure(const EngineConfig& next) {
  EngineConfig cfg = keptOnReload(next, cfg_);
  if (runtime_.empty() && !cfg.protection.services.empty()) {
    return Unexpected{Error{"services cannot be added to an engine started without any"}};
  }
  if (auto ok = validate(cfg); !ok) {
    return Unexpected{ok.error()};
  }
  auto services = ServiceMap::create(cfg.protection.services);
  if (!services) {
    return Unexpected{services.error()};
  }
  // Services are matched by name: a kept service keeps its mode, hold, rates, counters and
  // learned server profile; a new one starts fresh.
  std::vector<ServiceRuntime> runtime;
  std::vector<std::uint32_t> old_to_new(runtime_.size(), kNoIndex);
  for (std::size_t n = 0; n < cfg.protection.services.size(); ++n) {
    const ServiceConfig& sc = cfg.protection.services[n];
    std::size_t o = 0;
    while (o < runtime_.size() && cfg_.protection.services[o].name != sc.name) {
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
  for (std::uint32_t i = 0; i < table_->capacity(); ++i) {
    const Connection& c = table_->at(i);
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
  cfg_ = cfg;
  const auto cap = static_cast<double>(table_->capacity());
  emergency_enter_ = static_cast<std::size_t>(cap * cfg_.emergency.enter_fill);
  emergency_leave_ = static_cast<std::size_t>(cap * cfg_.emergency.leave_fill);
  unassured_cap_ = table_->capacity() - static_cast<std::size_t>(cap * cfg_.assured_reserve);
  ++stats_.reconfigurations;
  return {};
}

std::uint32_t Engine::tickOf(MonotonicTime t) const noexcept {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t - epoch_).count();
  return static_cast<std::uint32_t>(static_cast<std::uint64_t>(ms));
}

MonotonicTime Engine::timeOfTick(std::uint32_t tick) const noexcept {
  // The tick is at most 2^31 ms behind the latest time seen.
  const std::uint32_t latest_tick = tickOf(latest_);
  const auto back = static_cast<std::uint32_t>(latest_tick - tick);
  const MonotonicTime latest_ms{
      epoch_.since_epoch +
      std::chrono::milliseconds(static_cast<std::int64_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(latest_ - epoch_).count()))};
  return latest_ms + std::chrono::milliseconds(-static_cast<std::int64_t>(back));
}

std::chrono::milliseconds Engine::timeoutFor(TcpState s) const noexcept {
  return stats_.emergency != 0 ? cfg_.emergency.timeouts.forState(s) : cfg_.timeouts.forState(s);
}

std::chrono::milliseconds Engine::unassuredTimeout() const noexcept {
  return stats_.emergency != 0 ? cfg_.emergency.timeouts.unassured : cfg_.timeouts.unassured;
}

std::uint8_t Engine::listFor(const Connection& c) const noexcept {
  // Half-open entries stay on their state's list (its timeout, capped by the unassured one,
  // applies to the whole list: all of it is unassured but for a proxied connection's moment).
  return c.assured() || isHalfOpen(c.state) ? ConnectionTable::listOf(c.state)
                                            : ConnectionTable::kUnassuredList;
}

void Engine::assure(Connection& c) noexcept {
  if (c.assured()) {
    return;
  }
  c.in_use = static_cast<std::uint8_t>(c.in_use | kSlotAssured);
  --stats_.unassured;
  ++stats_.connections_assured;
}

MonotonicTime Engine::advanceClock() noexcept {
  MonotonicTime now = clock_->now();
  if (!started_) {
    started_ = true;
    epoch_ = now;
    latest_ = now;
  }
  // Captures can step backwards (merged files, reordering): engine time never does.
  if (now < latest_) {
    now = latest_;
  }
  latest_ = now;
  return now;
}

void Engine::expire() noexcept {
  const MonotonicTime now = advanceClock();
  expireUntil(tickOf(now));
}

void Engine::expireUntil(std::uint32_t tick) noexcept {
  last_expire_tick_ = tick;
  runProxyDeadlines(tick);
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
      endConnection(idx, EndCause::kTimeout);
    }
  }
  reapHalfOpen(tick);
  // After the timeouts: half-open connections that just expired no longer hold a mode up.
  for (std::uint32_t s = 0; s < runtime_.size(); ++s) {
    updateMode(s, tick, latest_);
  }
}

void Engine::flush() noexcept {
  for (std::uint32_t i = 0; i < table_->capacity(); ++i) {
    if (table_->at(i).in_use != 0) {
      endConnection(i, EndCause::kFlushed);
    }
  }
}

void Engine::endConnection(std::uint32_t idx, EndCause cause) noexcept {
  Connection& c = table_->at(idx);
  leaveHalfOpen(c);
  if ((c.flags & kConnProxied) != 0) {
    releaseProxy(c.proxyEntry());
    c.flags = static_cast<std::uint8_t>(c.flags & ~kConnProxied);
    c.setProxyEntry(kNoIndex);
  }
  if (!c.assured()) {
    --stats_.unassured;
  }
  --stats_.connections_by_state[index(c.state)];
  ++stats_.connections_ended[static_cast<std::size_t>(cause)];
  if (observer_ != nullptr) {
    observer_->onConnectionEnd(c, cause);
  }
  table_->remove(idx);
  updateEmergency();
}

void Engine::updateEmergency() noexcept {
  const std::size_t n = table_->size();
  if (stats_.emergency == 0 && n > emergency_enter_) {
    stats_.emergency = 1;
    ++stats_.emergency_entered;
  } else if (stats_.emergency != 0 && n < emergency_leave_) {
    stats_.emergency = 0;
  }
}

std::uint32_t Engine::oldestEvictable(bool closing) const noexcept {
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

void Engine::evict(std::uint32_t victim, EvictKind kind) noexcept {
  ++stats_.evictions[static_cast<std::size_t>(kind)];
  // The next victim is likely the one after this on the same list: start loading what
  // removing it will touch (during a flood every new SYN evicts).
  table_->prefetchForRemoval(table_->at(victim).lru_next);
  endConnection(victim, EndCause::kEvicted);
}

std::uint32_t Engine::allocate(const FlowKey& key, std::uint64_t hash, bool assured) noexcept {
  if (!assured && stats_.unassured >= unassured_cap_) {
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
      ++stats_.table_full;
      return kNoIndex;
    }
    evict(victim, table_->at(victim).assured() ? EvictKind::kClosing : EvictKind::kUnassured);
    idx = table_->insert(key, hash);
  }
  ++stats_.connections_created;
  stats_.table_peak = std::max<std::uint64_t>(stats_.table_peak, table_->size());
  Connection& c = table_->at(idx);
  c.ep[0].state = TcpState::kClosed;
  c.ep[1].state = TcpState::kListen;
  c.state = TcpState::kListen;
  c.first_seen_ns = latest_.since_epoch.count();
  if (assured) {
    c.in_use = static_cast<std::uint8_t>(c.in_use | kSlotAssured);
    ++stats_.connections_assured;
  } else {
    ++stats_.unassured;
  }
  ++stats_.connections_by_state[index(c.state)];
  // On a timer list from the start, so an entry whose first segment changes nothing still
  // expires (the caller's track() moves it to its state's list).
  table_->touch(idx, listFor(c), tickOf(latest_));
  updateEmergency();
  return idx;
}

void Engine::setState(Connection& c, TcpState next) noexcept {
  if (c.state == next) {
    return;
  }
  const TcpState prev = c.state;
  --stats_.connections_by_state[index(prev)];
  ++stats_.connections_by_state[index(next)];
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
        ++stats_.handshakes_completed;
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

void Engine::enterHalfOpen(Connection& c, const HalfOpenAccounting::SynRefs& refs) noexcept {
  if ((c.flags & kConnHalfOpenCounted) != 0) {
    return;
  }
  half_open_->enter(c, refs);
  if (!runtime_.empty()) {
    const std::uint32_t svc = services_.find(c.key.resp_addr, c.key.resp_port);
    if (svc != ServiceMap::kNone) {
      ServiceRuntime& rt = runtime_[svc];
      rt.peak_half_open = std::max(rt.peak_half_open, ++rt.half_open);
      updateMode(svc, tickOf(latest_), latest_);  // the threshold may be this connection
    }
  }
}

void Engine::leaveHalfOpen(Connection& c) noexcept {
  if ((c.flags & kConnHalfOpenCounted) == 0) {
    return;
  }
  half_open_->leave(c);
  if (!runtime_.empty()) {
    const std::uint32_t svc = services_.find(c.key.resp_addr, c.key.resp_port);
    if (svc != ServiceMap::kNone && runtime_[svc].half_open > 0) {
      --runtime_[svc].half_open;
    }
  }
}

Verdict Engine::invalid(InvalidReason r) noexcept {
  ++stats_.invalid[static_cast<std::size_t>(r)];
  return Verdict::accept(VerdictReason::kInvalid);
}

void Engine::prefetch(std::span<const std::byte> p, bool deep) const noexcept {
  // Just enough parsing to find the tuple of a plain IPv4/IPv6 TCP packet; anything unusual is
  // left alone (process() does the real parsing).
  if (p.size() < 40) {
    return;
  }
  const auto b = [&](std::size_t i) { return std::to_integer<std::uint8_t>(p[i]); };
  FlowKey k;
  std::size_t l4 = 0;
  if ((b(0) >> 4) == 4 && b(9) == 6) {
    l4 = std::size_t{b(0) & 0x0fU} * 4;
    k.orig_addr = IpAddress::v4((std::uint32_t{b(12)} << 24) | (std::uint32_t{b(13)} << 16) |
                                (std::uint32_t{b(14)} << 8) | b(15));
    k.resp_addr = IpAddress::v4((std::uint32_t{b(16)} << 24) | (std::uint32_t{b(17)} << 16) |
                                (std::uint32_t{b(18)} << 8) | b(19));
  } else if ((b(0) >> 4) == 6 && b(6) == 6 && p.size() >= 60) {
    l4 = 40;
    std::uint8_t a[16];
    for (std::size_t i = 0; i < 16; ++i) {
      a[i] = b(8 + i);
    }
    k.orig_addr = IpAddress::v6(a);
    for (std::size_t i = 0; i < 16; ++i) {
      a[i] = b(24 + i);
    }
    k.resp_addr = IpAddress::v6(a);
  } else {
    return;
  }
  if (l4 + 4 > p.size()) {
    return;
  }
  k.orig_port = static_cast<std::uint16_t>((b(l4) << 8) | b(l4 + 1));
  k.resp_port = static_cast<std::uint16_t>((b(l4 + 2) << 8) | b(l4 + 3));
  if (deep) {
    table_->prefetchChain(k);
  } else {
    table_->prefetchBucket(k);
  }
}

Verdict Engine::process(std::span<const std::byte> packet, std::size_t wire_length) noexcept {
  return countVerdict(stats_, processImpl(packet, nullptr, PacketMeta{wire_length, false}));
}

Verdict Engine::processMutable(std::span<std::byte> packet, const PacketMeta& meta) noexcept {
  return countVerdict(stats_, processImpl(packet, packet.data(), meta));
}

Verdict Engine::processImpl(std::span<const std::byte> packet, std::byte* writable,
                            const PacketMeta& meta) noexcept {
  const std::size_t wire_length = meta.wire_length;
  ++stats_.packets;
  stats_.bytes += wire_length != 0 ? wire_length : packet.size();
  const MonotonicTime now = advanceClock();
  const std::uint32_t tick = tickOf(now);
  if (tick != last_expire_tick_) {
    expireUntil(tick);
  }

  Segment seg;
  ParseOptions popts = cfg_.parse;
  popts.wire_length = wire_length;
  const ParseError err = parseSegment(packet, seg, popts);
  switch (err) {
    case ParseError::kNone:
      break;
    case ParseError::kFragment:
      ++stats_.parse_errors[static_cast<std::size_t>(err)];
      if (const auto v = admitFragment(seg)) {
        return *v;
      }
      return Verdict::accept(VerdictReason::kFragment);
    case ParseError::kTinyFragment:
    case ParseError::kOverlappingFragment:
      ++stats_.parse_errors[static_cast<std::size_t>(err)];
      if (const auto v = admitUnsafeFragment(seg)) {
        return *v;
      }
      return Verdict::accept(VerdictReason::kFragment);
    case ParseError::kNotTcp:
      ++stats_.parse_errors[static_cast<std::size_t>(err)];
      if (const auto v = admitIcmp(packet, writable)) {
        return *v;
      }
      return Verdict::accept(VerdictReason::kNotTcp);
    case ParseError::kEmpty:
    case ParseError::kBadIpVersion:
    case ParseError::kTruncatedIpv4Header:
    case ParseError::kBadIhl:
    case ParseError::kTotalLengthMismatch:
    case ParseError::kTruncatedIpv6Header:
    case ParseError::kPayloadLengthMismatch:
    case ParseError::kTruncatedExtensionHeader:
    case ParseError::kTooManyExtensionHeaders:
    case ParseError::kTruncatedTcpHeader:
    case ParseError::kBadDataOffset:
    case ParseError::kDataOffsetBeyondPacket:
    case ParseError::kOptionOverrun:
    case ParseError::kZeroLengthOption:
    case ParseError::kBadOptionLength:
    case ParseError::kBadChecksum:
    case ParseError::kCount:
      ++stats_.parse_errors[static_cast<std::size_t>(err)];
      return Verdict::drop(VerdictReason::kMalformed);
  }
  ++stats_.tcp_segments;
  if (seg.first_fragment) [[unlikely]] {
    ++stats_.first_fragments;
  }
  if (wire_length > packet.size()) {
    ++stats_.snaplen_truncated;
  }
  if (seg.ip_version == 4 && seg.ip_length != 0 && popts.allow_zero_ip_length &&
      seg.ip_length == (wire_length != 0 ? wire_length : packet.size()) && packet.size() >= 4 &&
      packet[2] == std::byte{0} && packet[3] == std::byte{0}) {
    ++stats_.zero_ip_length;
  }

  const FlowKey tuple{seg.src, seg.dst, seg.src_port, seg.dst_port};
  const std::uint64_t hash = table_->hashOf(tuple);  // symmetric: serves either orientation
  ConnectionTable::Found found = table_->find(tuple, hash);
  if (found.idx != kNoIndex && !table_->at(found.idx).assured() &&
      !isHalfOpen(table_->at(found.idx).state)) {
    // The unassured list expires at one timeout for all; an entry whose state's own timeout is
    // shorter (CLOSED, LAST-ACK, ...) is over by then and is judged so when a packet finds it.
    const Connection& c = table_->at(found.idx);
    if (static_cast<std::int32_t>(tick - c.last_seen) >=
        static_cast<std::int32_t>(std::min(timeoutFor(c.state), unassuredTimeout()).count())) {
      endConnection(found.idx, EndCause::kTimeout);
      found = ConnectionTable::Found{};
    }
  }
  const bool syn_only = seg.has(kSyn) && !seg.has(kAck);
  HalfOpenAccounting::SynRefs refs;
  const bool syn_flags_ok = syn_only && validFlags(seg.flags);
  // The configured service this segment is addressed to (client -> service direction).
  std::uint32_t svc = ServiceMap::kNone;
  if (!runtime_.empty() &&
      (syn_flags_ok || found.idx == kNoIndex || !cfg_.protection.deny.empty())) {
    svc = services_.find(seg.dst, seg.dst_port);
  }
  if (svc != ServiceMap::kNone && !cfg_.protection.deny.empty() &&
      cfg_.protection.deny.contains(seg.src)) {
    if (const Verdict v = dropOrWould(svc, VerdictReason::kDenied); v.action == Action::kDrop) {
      return v;
    }
  }
  // (A first fragment's checksum covers the whole datagram: it cannot be verified here.)
  if (syn_flags_ok && svc != ServiceMap::kNone && meta.checksum_unverified && !seg.first_fragment &&
      seg.ip_length <= packet.size() &&
      tcpChecksum(packet.first(seg.ip_length), seg.tcp_offset, seg.ip_length - seg.tcp_offset) !=
          0) {
    // A corrupt SYN: the server would drop it; answering it (a cookie) or tracking it (a
    // half-open connection that never completes) would only serve whoever sent it.
    ++stats_.parse_errors[static_cast<std::size_t>(ParseError::kBadChecksum)];
    if (const Verdict v = dropOrWould(svc, VerdictReason::kMalformed); v.action == Action::kDrop) {
      return v;
    }
  }
  if (syn_flags_ok) {
    refs = half_open_->recordSyn(
        tuple, tick,
        svc == ServiceMap::kNone ? std::uint16_t{0} : static_cast<std::uint16_t>(svc + 1));
  }

  if (found.idx != kNoIndex) {
    Connection& c = table_->at(found.idx);
    const bool from_orig = !found.reply;
    if ((c.flags & kConnProxied) != 0 &&
        !(syn_flags_ok && from_orig &&
          (c.state == TcpState::kTimeWait || c.state == TcpState::kClosed))) {
      if (seg.first_fragment) [[unlikely]] {
        // The proxy translates whole segments; the rest of this datagram would reach the other
        // side untranslated. TCP sets DF (RFC 9293 §3.7.2, path MTU discovery): a real endpoint
        // does not fragment, so nothing legitimate is lost.
        return Verdict::drop(VerdictReason::kFragmentProxied);
      }
      ++c.pkts[from_orig ? 0 : 1];
      return proxied(found.idx, from_orig, seg, packet, writable, meta, tick);
    }
    const bool attempt_over =
        cfg_.attempt_timeout.count() > 0 && c.ep[1].observed == Observed::kInactive &&
        (c.ep[0].observed == Observed::kSynSent || c.ep[0].observed == Observed::kSynAckSent) &&
        now.since_epoch.count() - c.first_seen_ns >=
            std::chrono::nanoseconds(cfg_.attempt_timeout).count();
    if (syn_flags_ok && (c.state == TcpState::kTimeWait || c.state == TcpState::kClosed)) {
      // RFC 9293 §3.10.7.4 / RFC 6191: a new SYN may reuse a tuple in TIME-WAIT; after a RST
      // the tuple is free. The old connection is reported and a new one begins, its originator
      // being this SYN's sender.
      ++stats_.connections_reopened;
      endConnection(found.idx, EndCause::kReopened);
    } else if (syn_flags_ok && !c.assured() &&
               ((c.flags & kConnPickedUp) != 0 || !isHalfOpen(c.state))) {
      // An unassured entry that is not a handshake of its own: a pickup nobody answered (a
      // spoofed segment "from the service" makes one), a stray, an unanswered close. A SYN
      // ends it and takes the new-connection path — counted, limited, answered with a cookie
      // in cookie mode — instead of passing as part of whatever the entry claimed to be.
      endConnection(found.idx, EndCause::kSuperseded);
    } else if (attempt_over) {
      endConnection(found.idx, EndCause::kAttempt);
    } else {
      if (seg.first_fragment) [[unlikely]] {
        // The rest of the datagram's sequence space goes unseen.
        c.flags = static_cast<std::uint8_t>(c.flags | kConnWindowLiberal);
      }
      ++c.pkts[from_orig ? 0 : 1];
      observeSegment(c, from_orig, seg);
      Verdict v = track(found.idx, from_orig, seg, tick, syn_flags_ok ? &refs : nullptr);
      if (!from_orig && seg.has(kSyn) && seg.has(kAck) && !runtime_.empty() &&
          v.reason == VerdictReason::kTracked) {
        learnProfile(table_->at(found.idx), seg);
      }
      if (cfg_.bypass_established && v.reason == VerdictReason::kTracked) {
        markBypass(table_->at(found.idx), seg, v);
      }
      return v;
    }
  }

  // A new connection to a protected service: cookies, limits and lists decide first.
  if (svc != ServiceMap::kNone) {
    if (syn_flags_ok) {
      if (const auto v = admitSyn(svc, tuple, seg, refs, tick, now)) {
        return *v;
      }
    } else if (seg.first_fragment) [[unlikely]] {
      if (const auto v = admitFirstFragment(svc)) {
        return *v;
      }
    } else if (seg.has(kAck) && !seg.has(kSyn) && !seg.has(kRst)) {
      if (const auto v = admitAck(svc, tuple, hash, seg, packet, tick)) {
        return *v;
      }
    } else if (const auto v = admitStray(svc)) {
      return *v;
    }
  }

  // Never an entry from the server's side of a service in cookie mode: nothing it could start
  // is legitimate while its clients come through cookies (their connections are proxied and
  // found above), and a spoofed one would make an entry a later SYN finds.
  if (!runtime_.empty()) {
    if (const std::uint32_t from = services_.find(seg.src, seg.src_port);
        from != ServiceMap::kNone && cfg_.protection.services[from].mode != ProtectionMode::kOff &&
        runtime_[from].mode.mode() == ServiceMode::kCookie) {
      if (const Verdict v = dropOrWould(from, VerdictReason::kServerSide);
          v.action == Action::kDrop) {
        return v;
      }
    }
  }

  // No connection for this tuple: decide whether the segment may start one.
  const bool stray = !validFlags(seg.flags) || seg.has(kRst);
  if (stray && !cfg_.record_stray) {
    return invalid(InvalidReason::kNoConnection);
  }
  FlowKey key = tuple;
  bool flip = false;
  if (stray) {
    flip = likelyServerPort(seg.src_port) && !likelyServerPort(seg.dst_port);
    if (flip) {
      key = tuple.reversed();
    }
    const std::uint32_t idx = allocate(key, hash);
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
  if (!syn_only) {
    if (!cfg_.pickup_midstream) {
      return Verdict::accept(VerdictReason::kUntracked);
    }
    if (seg.has(kSyn)) {
      flip = true;  // a SYN-ACK is the responder's
    } else if (!runtime_.empty() && services_.find(seg.src, seg.src_port) != ServiceMap::kNone &&
               services_.find(seg.dst, seg.dst_port) == ServiceMap::kNone) {
      flip = true;  // from a configured service: it is the responder, whatever its port
    } else {
      const bool src_srv = likelyServerPort(seg.src_port);
      const bool dst_srv = likelyServerPort(seg.dst_port);
      flip = src_srv && (!dst_srv || seg.src_port < seg.dst_port);
    }
    if (flip) {
      key = tuple.reversed();
    }
  }
  const std::uint32_t idx = allocate(key, hash);
  if (idx == kNoIndex) {
    return Verdict::accept(VerdictReason::kUntracked);
  }
  Connection& c = table_->at(idx);
  if (syn_only) {
    c.flags = kConnSynSeen;
    c.ep[0].flags = kEpRstOs0Ok;
  } else {
    ++stats_.connections_picked_up;
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
  const bool from_orig = !flip;
  ++c.pkts[from_orig ? 0 : 1];
  observeSegment(c, from_orig, seg);
  return track(idx, from_orig, seg, tick, syn_only ? &refs : nullptr);
}

void Engine::markBypass(Connection& c, const Segment& seg, Verdict& v) noexcept {
  // Only a plain segment of a connection established on both sides: the kernel rule that acts
  // on the mark sees the same flags, and a SYN, FIN or RST must always come to us.
  if (c.state != TcpState::kEstablished || seg.has(kSyn) || seg.has(kFin) || seg.has(kRst) ||
      (c.flags & kConnProxied) != 0) {
    return;
  }
  if ((c.flags & kConnBypassed) == 0) {
    ++stats_.bypass_started;
  }
  c.flags = static_cast<std::uint8_t>(c.flags | kConnBypassed | kConnResyncOrig | kConnResyncResp);
  v.bypass = true;
}

Verdict Engine::track(std::uint32_t idx, bool from_orig, const Segment& seg, std::uint32_t tick,
                      const HalfOpenAccounting::SynRefs* syn_refs) noexcept {
  Connection& c = table_->at(idx);
  EndpointView& snd = c.ep[from_orig ? 0 : 1];
  EndpointView& rcv = c.ep[from_orig ? 1 : 0];

  if (!validFlags(seg.flags)) {
    return invalid(InvalidReason::kBadFlags);
  }

  // Classify the segment into an event, running the guards in RFC 9293 §3.10.7.4 order.
  TcpEvent ev = TcpEvent::kNone;
  bool init_sender = false;
  bool check_window = (c.flags & kConnWindowLiberal) == 0;
  const std::uint8_t resync_bit = from_orig ? kConnResyncOrig : kConnResyncResp;
  if ((c.flags & resync_bit) != 0 && !seg.has(kSyn)) {
    // Segments of this sender bypassed us: its sequence space moved on unseen. Take this
    // segment as its new position (conntrack's pickup does the same) and judge it liberally;
    // a RST then matches exactly (the endpoint itself checks RSTs against its window).
    resyncSender(snd, rcv, seg);
    check_window = false;
    if ((c.flags & kConnBypassed) == 0 || seg.has(kFin) || seg.has(kRst)) {
      c.flags = static_cast<std::uint8_t>(c.flags & ~resync_bit);
    }
  }
  if (seg.has(kFin) || seg.has(kRst)) {
    // The kernel's bypass rule removes the tuple on a FIN or RST: from here on we see it all.
    c.flags = static_cast<std::uint8_t>(c.flags & ~kConnBypassed);
  }
  if (seg.has(kRst)) {
    switch (checkRst(snd, rcv, seg)) {
      case RstCheck::kExact:
        ev = TcpEvent::kRst;
        break;
      case RstCheck::kInWindow:
        ++stats_.rst_in_window;
        return Verdict::accept(VerdictReason::kIgnored);
      case RstCheck::kOutOfWindow:
        return invalid(InvalidReason::kRstOutOfWindow);
      case RstCheck::kNotAcceptable:
        return invalid(InvalidReason::kRstNotAcceptable);
    }
    check_window = false;
  } else if (seg.has(kSyn)) {
    ev = seg.has(kAck) ? TcpEvent::kSynAck : TcpEvent::kSyn;
    const bool handshake = isHalfOpen(c.state) || c.state == TcpState::kListen;
    if (ev == TcpEvent::kSynAck &&
        (rcv.state == TcpState::kSynSent || rcv.state == TcpState::kSynReceived)) {
      // RFC 9293 §3.10.7.3: the SYN-ACK must acknowledge exactly our SYN (ISS + 1).
      if (seg.ack != SeqNum{rcv.end}) {
        return invalid(InvalidReason::kSynAckBadAck);
      }
    }
    // A SYN or SYN-ACK during the handshake (first, retransmitted, or with a new ISN after the
    // old attempt was abandoned) (re)defines its sender's sequence space.
    init_sender =
        handshake && (snd.state == TcpState::kClosed || snd.state == TcpState::kListen ||
                      snd.state == TcpState::kSynSent || snd.state == TcpState::kSynReceived);
    if (init_sender) {
      check_window = false;
    }
  } else if (seg.has(kFin)) {
    ev = acksFin(rcv, seg) ? TcpEvent::kFinAckOfFin : TcpEvent::kFin;
  } else if (seg.has(kAck)) {
    ev = acksFin(rcv, seg) ? TcpEvent::kAckOfFin : TcpEvent::kAck;
  }

  if (check_window) {
    if (const auto bad = checkWindow(snd, rcv, seg)) {
      return invalid(*bad);
    }
  }

  const TcpState ns = nextState(Role::kSender, ev, snd.state);
  const TcpState nr = nextState(Role::kReceiver, ev, rcv.state);
  if (ns == TcpState::kInvalid || nr == TcpState::kInvalid) {
    return invalid(InvalidReason::kOutOfState);
  }
  if (ns == TcpState::kIgnore && nr == TcpState::kIgnore) {
    if (ev == TcpEvent::kSyn) {
      ++stats_.syn_on_synchronized;
    }
    return Verdict::accept(VerdictReason::kIgnored);
  }

  // Accepted: update the window views, then the states.
  if (init_sender) {
    initFromSyn(snd, seg);
    if (ev == TcpEvent::kSynAck || (ev == TcpEvent::kSyn && !from_orig)) {
      settleWindowScale(c.ep[0], c.ep[1]);
      if (seg.has(kAck)) {
        const SeqNum right = seg.ack + std::max<std::uint32_t>(seg.window, 1);
        rcv.max_end = right.raw();
      }
    }
  } else if (ev != TcpEvent::kRst) {
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
    const bool answered = (c.flags & kConnPickedUp) != 0 && !from_orig && ev != TcpEvent::kRst &&
                          answers(c.ep[0], c.ep[1], seg);
    if (handshake || answered) {
      assure(c);
    }
  }
  table_->touch(idx, listFor(c), tick);
  return Verdict::accept(VerdictReason::kTracked);
}

}  // namespace synguard::engine
