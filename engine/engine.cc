#include "engine/engine.h"

#include <algorithm>
#include <array>

#include "engine/limits.h"
#include "engine/verdict_counter.h"

namespace synguard::engine {

namespace {

TrackerConfig trackerConfig(const EngineConfig& cfg) noexcept {
  return TrackerConfig{
      .table_capacity = cfg.table_capacity,
      .assured_reserve = cfg.assured_reserve,
      .timeouts = cfg.timeouts,
      .emergency = cfg.emergency,
      .half_open = cfg.half_open,
      .record_stray = cfg.record_stray,
      .bypass_established = cfg.bypass_established,
      .attempt_timeout = cfg.attempt_timeout,
  };
}

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
      clock_(&clock),
      tracker_(trackerConfig(cfg), secrets.hash_seed),
      protector_(cfg.protection, secrets.master_key, sink, observer, std::move(services),
                 std::move(runtime)) {
  bindStages();
}

Engine::Engine(Engine&& other) noexcept
    : cfg_(std::move(other.cfg_)),
      clock_(other.clock_),
      stats_(other.stats_),
      last_expire_tick_(other.last_expire_tick_),
      tracker_(std::move(other.tracker_)),
      protector_(std::move(other.protector_)) {
  bindStages();
}

Engine& Engine::operator=(Engine&& other) noexcept {
  cfg_ = std::move(other.cfg_);
  clock_ = other.clock_;
  stats_ = other.stats_;
  last_expire_tick_ = other.last_expire_tick_;
  tracker_ = std::move(other.tracker_);
  protector_ = std::move(other.protector_);
  bindStages();
  return *this;
}

void Engine::bindStages() noexcept {
  // Only services count half-open connections above the tracker; an engine started without
  // any never gets one (reconfigure() refuses to add them).
  tracker_.bind(stats_, protector_, protector_.serviceCount() != 0);
  protector_.bind(stats_, tracker_);
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

namespace {

/// One setting a reload keeps: its name in the "needs a restart" message, whether the new
/// configuration changes it, and how its running value is put back.
struct KeptSetting {
  const char* what;
  bool (*changed)(const EngineConfig& next, const EngineConfig& running);
  void (*keep)(EngineConfig& next, const EngineConfig& running);
};

bool sameMss(const MssTable& a, const MssTable& b) {
  return a.size == b.size && a.values == b.values;
}

// What sized the memory allocated at start (the table, the accounting's tables, the proxy's
// pools), or what connections already depend on (the cookie layout and key period of cookies
// handed out), stays until a restart. The one list of them: the daemon adds its own settings.
const std::array<KeptSetting, 7> kKeptOnReload{{
    {"table capacity",
     [](const EngineConfig& n, const EngineConfig& r) {
       return n.table_capacity != r.table_capacity;
     },
     [](EngineConfig& n, const EngineConfig& r) { n.table_capacity = r.table_capacity; }},
    {"proxy capacity",
     [](const EngineConfig& n, const EngineConfig& r) {
       return n.protection.proxy.capacity != r.protection.proxy.capacity;
     },
     [](EngineConfig& n, const EngineConfig& r) {
       n.protection.proxy.capacity = r.protection.proxy.capacity;
     }},
    {"key rotation",
     [](const EngineConfig& n, const EngineConfig& r) {
       return n.protection.key_rotation != r.protection.key_rotation;
     },
     [](EngineConfig& n, const EngineConfig& r) {
       n.protection.key_rotation = r.protection.key_rotation;
     }},
    {"accounting capacities",
     [](const EngineConfig& n, const EngineConfig& r) {
       return n.half_open.service_capacity != r.half_open.service_capacity ||
              n.half_open.source_capacity != r.half_open.source_capacity;
     },
     [](EngineConfig& n, const EngineConfig& r) {
       n.half_open.service_capacity = r.half_open.service_capacity;
       n.half_open.source_capacity = r.half_open.source_capacity;
     }},
    {"source prefix lengths",
     [](const EngineConfig& n, const EngineConfig& r) {
       return n.half_open.source_prefix_v4 != r.half_open.source_prefix_v4 ||
              n.half_open.source_prefix_v6 != r.half_open.source_prefix_v6;
     },
     [](EngineConfig& n, const EngineConfig& r) {
       n.half_open.source_prefix_v4 = r.half_open.source_prefix_v4;
       n.half_open.source_prefix_v6 = r.half_open.source_prefix_v6;
     }},
    {"cookie window and MSS tables",
     [](const EngineConfig& n, const EngineConfig& r) {
       const auto& a = n.protection.cookies;
       const auto& b = r.protection.cookies;
       return a.window != b.window || a.max_age_windows != b.max_age_windows ||
              !sameMss(a.v4, b.v4) || !sameMss(a.v6, b.v6);
     },
     [](EngineConfig& n, const EngineConfig& r) { n.protection.cookies = r.protection.cookies; }},
    {"proxy early-segment buffers",
     [](const EngineConfig& n, const EngineConfig& r) {
       return n.protection.proxy.early_segment_buffers != r.protection.proxy.early_segment_buffers;
     },
     [](EngineConfig& n, const EngineConfig& r) {
       n.protection.proxy.early_segment_buffers = r.protection.proxy.early_segment_buffers;
     }},
}};

}  // namespace

std::vector<const char*> Engine::keepOnReload(EngineConfig& next, const EngineConfig& running) {
  std::vector<const char*> kept;
  for (const KeptSetting& k : kKeptOnReload) {
    if (k.changed(next, running)) {
      kept.push_back(k.what);
    }
    k.keep(next, running);
  }
  return kept;
}

Result<void> Engine::reconfigure(const EngineConfig& next) {
  EngineConfig cfg = next;
  keepOnReload(cfg, cfg_);
  if (protector_.serviceCount() == 0 && !cfg.protection.services.empty()) {
    return Unexpected{Error{"services cannot be added to an engine started without any"}};
  }
  if (auto ok = validate(cfg); !ok) {
    return Unexpected{ok.error()};
  }
  if (auto ok = protector_.reconfigure(cfg.protection); !ok) {
    return ok;
  }
  tracker_.reconfigure(trackerConfig(cfg));
  cfg_ = cfg;
  ++stats_.reconfigurations;
  return {};
}

void Engine::expire() noexcept {
  const MonotonicTime now = tracker_.advance(clock_->now());
  expireUntil(tracker_.tickOf(now));
}

void Engine::expireUntil(std::uint32_t tick) noexcept {
  last_expire_tick_ = tick;
  protector_.runProxyDeadlines(tick);
  tracker_.expireUntil(tick);
  protector_.reapHalfOpen(tick);
  // After the timeouts: half-open connections that just expired no longer hold a mode up.
  protector_.updateModes(tick, tracker_.latest());
}

void Engine::flush() noexcept { tracker_.flush(); }

std::optional<MonotonicTime> Engine::nextDeadline() const noexcept {
  std::uint32_t tick = 0;
  if (!tracker_.started() || !protector_.proxies().nextDeadline(tick)) {
    return std::nullopt;
  }
  const auto ahead = static_cast<std::int32_t>(tick - tracker_.latestTick());
  return tracker_.latest() + std::chrono::milliseconds(std::max(ahead, 0));
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
    tracker_.table().prefetchChain(k);
  } else {
    tracker_.table().prefetchBucket(k);
  }
}

Verdict Engine::process(std::span<const std::byte> packet, std::size_t wire_length) noexcept {
  return countVerdict(stats_, processImpl(packet, nullptr, PacketMeta{wire_length, false}));
}

Verdict Engine::processMutable(std::span<std::byte> packet, const PacketMeta& meta) noexcept {
  return countVerdict(stats_, processImpl(packet, packet.data(), meta));
}

void Engine::noteOffloaded(std::size_t service, const OffloadedCounts& counts) noexcept {
  if (service >= protector_.serviceCount()) {
    return;
  }
  const MonotonicTime now = tracker_.advance(clock_->now());
  const std::uint32_t tick = tracker_.tickOf(now);
  const std::uint64_t packets = counts.syns_answered + counts.denied;
  stats_.packets += packets;
  stats_.tcp_segments += packets;
  stats_.bytes += counts.bytes_answered + counts.denied_bytes;
  stats_.dropped[static_cast<std::size_t>(VerdictReason::kCookieSent)] += counts.syns_answered;
  stats_.dropped[static_cast<std::size_t>(VerdictReason::kDenied)] += counts.denied;
  // A rate meter's window holds 32 bits; a batch is what one CPU set answered in ~100 ms.
  for (std::uint64_t left = counts.syns_answered; left != 0;) {
    const auto n = static_cast<std::uint32_t>(std::min<std::uint64_t>(left, 0xffffffffU));
    tracker_.halfOpen().recordOffloadedSyns(tick, n);
    protector_.noteOffloadedSyns(static_cast<std::uint32_t>(service), n, tick, now);
    left -= n;
  }
}

void Engine::handoffEnded(const FlowKey& tuple, HandoffEnd how) noexcept {
  const MonotonicTime now = tracker_.advance(clock_->now());
  const std::uint32_t tick = tracker_.tickOf(now);
  const ConnectionTable::Found found = tracker_.find(tuple, tracker_.table().hashOf(tuple), tick);
  if (found.idx != kNoIndex) {
    protector_.handoffEnded(found.idx, how, tick);
  }
}

Verdict Engine::processImpl(std::span<const std::byte> packet, std::byte* writable,
                            const PacketMeta& meta) noexcept {
  ++stats_.packets;
  stats_.bytes += meta.wire_length != 0 ? meta.wire_length : packet.size();
  const MonotonicTime now = tracker_.advance(clock_->now());
  const std::uint32_t tick = tracker_.tickOf(now);
  if (tick != last_expire_tick_) {
    expireUntil(tick);
  }
  // 1. Parse.
  Segment seg;
  ParseOptions popts = cfg_.parse;
  popts.wire_length = meta.wire_length;
  if (const ParseError err = parseSegment(packet, seg, popts); err != ParseError::kNone) {
    return admitUnparsed(err, seg, packet, writable);
  }
  countSegment(seg, packet, popts);
  const FlowKey tuple{seg.src, seg.dst, seg.src_port, seg.dst_port};
  const std::uint64_t hash = tracker_.table().hashOf(tuple);  // symmetric: either orientation
  const ConnectionTable::Found found = tracker_.find(tuple, hash, tick);
  const bool syn = seg.has(kSyn) && !seg.has(kAck) && validFlags(seg.flags);

  // 2. Admit: what protection decides of every segment to a service (client -> service).
  const std::uint32_t svc = protector_.serviceFor(seg, syn || found.idx == kNoIndex);
  if (svc != ServiceMap::kNone) {
    if (const auto v = protector_.screen(svc, seg, packet, syn, meta.checksum_unverified)) {
      return *v;
    }
  }
  HalfOpenAccounting::SynRefs refs;
  if (syn) {
    refs = tracker_.halfOpen().recordSyn(
        tuple, tick,
        svc == ServiceMap::kNone ? std::uint16_t{0} : static_cast<std::uint16_t>(svc + 1));
  }
  const HalfOpenAccounting::SynRefs* syn_refs = syn ? &refs : nullptr;

  // 3. Track or proxy a connection the table holds, unless this segment ends it.
  if (found.idx != kNoIndex) {
    const Connection& c = tracker_.at(found.idx);
    const bool from_orig = !found.reply;
    // A SYN from the client reusing a closed tuple starts a new connection, proxied or not.
    const bool reopens =
        syn && from_orig && (c.state == TcpState::kTimeWait || c.state == TcpState::kClosed);
    if ((c.flags & kConnProxied) != 0 && !reopens) {
      return protector_.proxied(found.idx, from_orig, seg, packet, writable, meta.checksum_partial,
                                tick);
    }
    if (!tracker_.endsHeld(found, syn, now)) {
      return trackHeld(found, seg, syn_refs, tick);
    }
  }
  // 2-3. A new connection: protection admits it (cookies, limits, lists), then it is tracked.
  if (svc != ServiceMap::kNone) {
    if (const auto v =
            protector_.admit(svc, tuple, hash, seg, refs, packet, syn, tick, now, *clock_)) {
      return *v;
    }
  }
  if (const auto v = protector_.admitFromServer(seg)) {
    return *v;
  }
  return open(tuple, hash, seg, syn_refs, tick);
}

Verdict Engine::admitUnparsed(ParseError err, const Segment& seg, std::span<const std::byte> packet,
                              std::byte* writable) noexcept {
  ++stats_.parse_errors[static_cast<std::size_t>(err)];
  switch (err) {
    case ParseError::kNone:
      break;
    case ParseError::kFragment:
      return protector_.admitFragment(seg).value_or(Verdict::accept(VerdictReason::kFragment));
    case ParseError::kTinyFragment:
    case ParseError::kOverlappingFragment:
      return protector_.admitUnsafeFragment(seg).value_or(
          Verdict::accept(VerdictReason::kFragment));
    case ParseError::kNotTcp:
      return protector_.admitIcmp(packet, writable)
          .value_or(Verdict::accept(VerdictReason::kNotTcp));
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
      break;
  }
  return Verdict::drop(VerdictReason::kMalformed);
}

void Engine::countSegment(const Segment& seg, std::span<const std::byte> packet,
                          const ParseOptions& popts) noexcept {
  ++stats_.tcp_segments;
  if (seg.first_fragment) [[unlikely]] {
    ++stats_.first_fragments;
  }
  const std::size_t wire_length = popts.wire_length;
  if (wire_length > packet.size()) {
    ++stats_.snaplen_truncated;
  }
  if (seg.ip_version == 4 && seg.ip_length != 0 && popts.allow_zero_ip_length &&
      seg.ip_length == (wire_length != 0 ? wire_length : packet.size()) && packet.size() >= 4 &&
      packet[2] == std::byte{0} && packet[3] == std::byte{0}) {
    ++stats_.zero_ip_length;
  }
}

Verdict Engine::trackHeld(const ConnectionTable::Found& found, const Segment& seg,
                          const HalfOpenAccounting::SynRefs* syn_refs,
                          std::uint32_t tick) noexcept {
  const Verdict v = tracker_.trackHeld(found, seg, syn_refs, tick);
  if (found.reply && seg.has(kSyn) && seg.has(kAck) && protector_.serviceCount() != 0 &&
      v.reason == VerdictReason::kTracked) {
    protector_.learnProfile(tracker_.at(found.idx), seg);
  }
  return v;
}

Verdict Engine::open(const FlowKey& tuple, std::uint64_t hash, const Segment& seg,
                     const HalfOpenAccounting::SynRefs* syn_refs, std::uint32_t tick) noexcept {
  if (!validFlags(seg.flags) || seg.has(kRst)) {
    return tracker_.refuseStray(tuple, hash, seg, tick);
  }
  if (syn_refs != nullptr) {
    return tracker_.open(tuple, hash, seg, true, syn_refs, tick);
  }
  if (!cfg_.pickup_midstream) {
    return Verdict::accept(VerdictReason::kUntracked);
  }
  // A pickup's originator: a SYN-ACK is the responder's; a segment from a configured service
  // is the responder's whatever its port; otherwise the port that looks like a server's.
  const bool flip = seg.has(kSyn) || protector_.fromService(seg) || Tracker::serverPortFirst(seg);
  return tracker_.open(flip ? tuple.reversed() : tuple, hash, seg, !flip, nullptr, tick);
}

}  // namespace synguard::engine
