#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "engine/clock.h"
#include "engine/packet/segment.h"
#include "engine/packet/tcp_writer.h"
#include "engine/packet_sink.h"
#include "engine/protect/protection.h"
#include "engine/protect/proxy_table.h"
#include "engine/result.h"
#include "engine/secrets.h"
#include "engine/stats.h"
#include "engine/track/connection_table.h"
#include "engine/track/half_open.h"
#include "engine/verdict.h"

namespace synguard::engine {

/// Per-state timeouts. Defaults follow Linux conntrack (nf_conntrack_tcp_timeout_*), with
/// TIME-WAIT = 2 * MSL (RFC 9293 §3.4.2, MSL = 60 s as Linux assumes).
struct Timeouts {
  std::chrono::milliseconds syn_sent{std::chrono::seconds(120)};
  std::chrono::milliseconds syn_received{std::chrono::seconds(60)};
  std::chrono::milliseconds established{std::chrono::hours(24 * 5)};
  std::chrono::milliseconds fin_wait{std::chrono::seconds(120)};
  std::chrono::milliseconds close_wait{std::chrono::seconds(60)};
  std::chrono::milliseconds closing{std::chrono::seconds(120)};
  std::chrono::milliseconds last_ack{std::chrono::seconds(30)};
  std::chrono::milliseconds time_wait{std::chrono::seconds(2 * 60)};
  std::chrono::milliseconds closed{std::chrono::seconds(10)};
  /// Unassured entries (Connection::assured): those not half-open live this long idle whatever
  /// their state (a separate timer list); half-open ones min(their state's timeout, this).
  std::chrono::milliseconds unassured{std::chrono::seconds(30)};

  std::chrono::milliseconds forState(TcpState s) const noexcept;
};

/// Emergency mode (as Suricata's flow engine has): above `enter_fill` of capacity, half-open and
/// closing connections get the short timeouts below; below `leave_fill` the normal ones return.
struct EmergencyConfig {
  double enter_fill = 0.90;
  double leave_fill = 0.70;
  Timeouts timeouts{
      .syn_sent = std::chrono::seconds(10),
      .syn_received = std::chrono::seconds(5),
      .established = std::chrono::hours(24 * 5),  // never shortened
      .fin_wait = std::chrono::seconds(10),
      .close_wait = std::chrono::seconds(10),
      .closing = std::chrono::seconds(10),
      .last_ack = std::chrono::seconds(5),
      .time_wait = std::chrono::seconds(10),
      .closed = std::chrono::seconds(2),
      .unassured = std::chrono::seconds(5),
  };
};

struct EngineConfig {
  std::size_t table_capacity = 1U << 20;  ///< rounded up to a power of two
  /// The share of the table unassured entries may not take (0 to 0.9): a new unassured entry
  /// evicts the oldest unassured one once they hold capacity * (1 - assured_reserve), so
  /// spoofed pickups can never starve assured or proxied connections.
  double assured_reserve = 0.25;
  Timeouts timeouts;
  EmergencyConfig emergency;
  HalfOpenConfig half_open;
  /// Create connections for segments whose handshake was not seen (after a restart), as
  /// conntrack's nf_conntrack_tcp_loose does; their windows are checked liberally.
  bool pickup_midstream = true;
  /// Keep an entry (in CLOSED) for segments that cannot start a connection (a stray RST, a scan
  /// with impossible flags), so an offline replay can report them. Off on a gateway: a RST
  /// flood must not fill the table.
  bool record_stray = false;
  /// Inline daemon whose kernel rules can bypass established connections: verdicts of plain
  /// ACK/data segments of established, untranslated connections carry Verdict::bypass, and
  /// such connections are then judged liberally (segments between those seen are skipped),
  /// FINs and RSTs still tracked exactly enough to follow the close. Off for replay.
  bool bypass_established = false;
  /// Analyst mode for replay (0 = off): an attempt whose responder has sent nothing for this
  /// long after the first SYN is concluded (outcome S0, as Zeek's tcp_attempt_delay of 5 s does),
  /// and later packets on the tuple begin a new connection. Off on a gateway, where a half-open
  /// connection lives for its SYN-SENT timeout.
  std::chrono::milliseconds attempt_timeout{0};
  ParseOptions parse;
  /// Services, SYN cookies, adaptive modes, per-source limits and the proxy (engine/protect/,
  /// docs/PROTECTION.md).
  ProtectionConfig protection;
  // The master key and the hash seed are not configuration: Engine::create() takes them apart
  // (Secrets).
};

/// Told about every connection that leaves the table, before its slot is reused.
class ConnectionObserver {
 public:
  virtual ~ConnectionObserver() = default;
  virtual void onConnectionEnd(const Connection& c, EndCause cause) noexcept = 0;
  /// A service changed mode (adaptive protection), with the numbers that caused it.
  virtual void onModeChange(std::size_t /*service*/, const ModeChange& /*change*/) noexcept {}
};

/// Load on each service counted by *other* engines (a daemon with several queues runs one
/// engine per queue; a service's flows spread over them). The mode machine decides on the sum,
/// so every queue switches on the service's whole load. Implementations read what the other
/// workers published; they must not block.
class ServiceLoadSource {
 public:
  virtual ~ServiceLoadSource() = default;
  virtual void othersLoad(std::size_t service, std::uint32_t& half_open,
                          double& syn_rate) const noexcept = 0;
};

/// Per-packet facts from the interceptor.
struct PacketMeta {
  /// Datagram length on the wire when the buffer was truncated by a capture (0: whole packet).
  std::size_t wire_length = 0;
  /// The kernel handed the packet over with CHECKSUM_PARTIAL (NFQA_SKB_CSUMNOTREADY): its TCP
  /// checksum field holds only the pseudo-header sum. A rewritten packet gets a full one.
  bool checksum_partial = false;
  /// Nothing has checked the TCP checksum yet (NFQA_SKB_CSUM_NOTVERIFIED): a SYN to a service
  /// is verified here before it is counted or answered (a corrupt SYN must not be answered with
  /// a cookie nor start a half-open connection; conntrack calls it INVALID).
  bool checksum_unverified = false;
};

/// The packet-processing core: parse, look up, track state, account half-open connections,
/// decide a verdict. Deterministic: bytes and time in, verdicts and counters out.
/// Not thread-safe; one per worker.
class Engine {
 public:
  /// `secrets` (the cookie master key, the hash seed) are kept for the engine's life.
  static Result<Engine> create(const EngineConfig& cfg, const Secrets& secrets, Clock& clock,
                               PacketSink& sink, ConnectionObserver* observer = nullptr);

  /// One IP packet. `wire_length` is the datagram's length on the wire when the buffer was
  /// truncated by a capture (0: the buffer is the whole packet).
  Verdict process(std::span<const std::byte> ip_packet, std::size_t wire_length = 0) noexcept;
  /// The same for a packet the caller lets the engine rewrite in place: segments of proxied
  /// connections are translated (Verdict::rewritten) and must be passed on as rewritten.
  /// (Through the read-only overload they are classified alike but left untouched.)
  Verdict processMutable(std::span<std::byte> ip_packet, const PacketMeta& meta = {}) noexcept;
  /// A hint that `ip_packet` will be processed soon (a few packets from now): starts loading the
  /// cache lines its lookup will touch. `deep` also follows the bucket to its first slot — call
  /// it for packets nearer in line, whose bucket an earlier shallow hint has loaded. Lookahead
  /// over a batch hides the memory latency that dominates a flood of new tuples.
  void prefetch(std::span<const std::byte> ip_packet, bool deep) const noexcept;
  /// Runs deadlines up to clock.now().
  void expire() noexcept;
  /// Ends every connection (cause kFlushed), reporting each to the observer.
  void flush() noexcept;
  /// When expire() next has work that is not a timeout (a delayed ACK or a proxy give-up), so
  /// the caller's loop can wake for it; nullopt when nothing is scheduled.
  std::optional<MonotonicTime> nextDeadline() const noexcept;

  std::size_t serviceCount() const noexcept { return runtime_.size(); }
  /// Adds other engines' load to this engine's mode decisions (nullptr: this engine alone).
  void setLoadSource(const ServiceLoadSource* source) noexcept { load_source_ = source; }
  /// This engine's own share of a service's load, for publishing to the others.
  void localLoad(std::size_t service, std::uint32_t& half_open, double& syn_rate) noexcept;
  const ServiceRuntime& service(std::size_t i) const noexcept { return runtime_[i]; }
  const ServiceConfig& serviceConfig(std::size_t i) const noexcept {
    return cfg_.protection.services[i];
  }
  /// The configured service a destination belongs to (ServiceMap::kNone if none).
  std::uint32_t findService(const IpAddress& dst, std::uint16_t port) const noexcept {
    return services_.find(dst, port);
  }
  const ProxyTable& proxies() const noexcept { return *proxies_; }
  /// A proxied connection's translation state, or nullptr.
  const ProxyEntry* proxyOf(const Connection& c) const noexcept {
    return (c.flags & kConnProxied) != 0 ? &proxies_->at(c.proxyEntry()) : nullptr;
  }

  const EngineStats& stats() const noexcept { return stats_; }
  const ConnectionTable& table() const noexcept { return *table_; }
  const HalfOpenAccounting& halfOpen() const noexcept { return *half_open_; }
  HalfOpenAccounting& halfOpen() noexcept { return *half_open_; }
  const EngineConfig& config() const noexcept { return cfg_; }
  /// A configuration reload, keeping the connection table, the proxied connections and the
  /// counters. Services are matched by name (a kept one keeps its mode, rates and learned
  /// profile). Sizes fixed at start (table, proxy, accounting capacities) and the cookie MSS
  /// tables and key period are kept from the running configuration; the secrets given to
  /// create() stay. Nothing changes if the new configuration is invalid.
  Result<void> reconfigure(const EngineConfig& next);
  /// `next` with what reconfigure() keeps from the `running` configuration (the sizes fixed at
  /// start, the cookie layout and key period).
  static EngineConfig keptOnReload(const EngineConfig& next, const EngineConfig& running);
  /// Everything create() checks of a configuration, without building an engine (a reload is
  /// checked once before any worker applies it).
  static Result<void> check(const EngineConfig& cfg);

  /// Engine ticks (wrapping milliseconds since the first packet) for a time.
  std::uint32_t tickOf(MonotonicTime t) const noexcept;
  /// Absolute time of a tick at or before the latest time seen.
  MonotonicTime timeOfTick(std::uint32_t tick) const noexcept;
  /// The endpoint-state view of a connection for the side that sent (from_orig) a segment.
  std::chrono::milliseconds timeoutFor(TcpState s) const noexcept;

 private:
  Engine(const EngineConfig& cfg, const Secrets& secrets, Clock& clock, PacketSink& sink,
         ConnectionObserver* observer, ServiceMap services, std::vector<ServiceRuntime> runtime);

  MonotonicTime advanceClock() noexcept;
  void expireUntil(std::uint32_t tick) noexcept;
  void endConnection(std::uint32_t idx, EndCause cause) noexcept;
  /// A slot for a new connection (`assured`: a proxied one), evicting to make room if needed.
  std::uint32_t allocate(const FlowKey& key, std::uint64_t hash, bool assured = false) noexcept;
  /// The oldest unassured entry (`closing`: or closing entry), kNoIndex if none.
  std::uint32_t oldestEvictable(bool closing) const noexcept;
  void evict(std::uint32_t victim, EvictKind kind) noexcept;
  /// The timer list a connection belongs on (its state's, or the unassured list).
  std::uint8_t listFor(const Connection& c) const noexcept;
  /// Marks a connection assured (moving it to its state's list at its next touch).
  void assure(Connection& c) noexcept;
  void releaseProxy(std::uint32_t pidx) noexcept;
  std::chrono::milliseconds unassuredTimeout() const noexcept;
  void updateEmergency() noexcept;
  /// Verdicts below process() are returned uncounted: process() counts the packet's once.
  Verdict track(std::uint32_t idx, bool from_orig, const Segment& seg, std::uint32_t tick,
                const HalfOpenAccounting::SynRefs* syn_refs) noexcept;
  Verdict invalid(InvalidReason r) noexcept;
  void setState(Connection& c, TcpState next) noexcept;
  Verdict processImpl(std::span<const std::byte> packet, std::byte* writable,
                      const PacketMeta& meta) noexcept;
  void leaveHalfOpen(Connection& c) noexcept;
  void enterHalfOpen(Connection& c, const HalfOpenAccounting::SynRefs& refs) noexcept;

  // Protection (engine_protect.cc).
  Verdict dropOrWould(std::uint32_t svc, VerdictReason r) noexcept;
  bool monitoring(std::uint32_t svc) const noexcept;
  void updateMode(std::uint32_t svc, std::uint32_t tick, MonotonicTime now) noexcept;
  /// A SYN that may start a connection to service `svc`: deny/allow lists, per-source limits,
  /// cookie mode. Returns a verdict when the SYN is handled here, nullopt to track it.
  std::optional<Verdict> admitSyn(std::uint32_t svc, const FlowKey& tuple, const Segment& seg,
                                  const HalfOpenAccounting::SynRefs& refs, std::uint32_t tick,
                                  MonotonicTime now) noexcept;
  /// An ACK with no connection, to a protected service: a returning cookie?
  std::optional<Verdict> admitAck(std::uint32_t svc, const FlowKey& tuple, std::uint64_t hash,
                                  const Segment& seg, std::span<const std::byte> packet,
                                  std::uint32_t tick) noexcept;
  /// A segment with no connection that cannot open one (RST, SYN-ACK, no ACK flag), to a
  /// protected service: dropped in cookie mode (nothing of a flood reaches the server), tracked
  /// as a stray otherwise.
  std::optional<Verdict> admitStray(std::uint32_t svc) noexcept;
  /// A later TCP fragment (not reassembled here; the rules queue every fragment to a protected
  /// address): dropped while a service on its destination is in cookie mode, because whatever
  /// it reassembles into at the server was never validated.
  std::optional<Verdict> admitFragment(const Segment& seg) noexcept;
  /// An ICMP error quoting a TCP segment (engine_icmp.cc): translated when it concerns a
  /// proxied connection, dropped when malformed or (in cookie mode) about no connection.
  /// nullopt: not such an error, accept it as any other non-TCP packet.
  std::optional<Verdict> admitIcmp(std::span<const std::byte> packet, std::byte* writable) noexcept;
  /// A TCP fragment that hides or overlaps the TCP header (ParseError::kTinyFragment,
  /// kOverlappingFragment): dropped, in every mode, when a protected service lives on its
  /// destination address (we cannot classify what it carries, so it must not pass).
  std::optional<Verdict> admitUnsafeFragment(const Segment& seg) noexcept;
  /// A first fragment with no connection that is not a SYN, to service `svc`: dropped in
  /// cookie mode (a cookie ACK is never validated from a fragment: the proxy cannot see the
  /// rest of the datagram), tracked as any segment otherwise.
  std::optional<Verdict> admitFirstFragment(std::uint32_t svc) noexcept;
  void readWall() noexcept;
  std::uint32_t cookieTsNow() const noexcept;
  ServerProfile profileFor(std::uint32_t svc) const noexcept;
  void learnProfile(const Connection& c, const Segment& synack) noexcept;
  void markBypass(Connection& c, const Segment& seg, Verdict& v) noexcept;
  Verdict proxied(std::uint32_t idx, bool from_orig, Segment& seg,
                  std::span<const std::byte> packet, std::byte* writable, const PacketMeta& meta,
                  std::uint32_t tick) noexcept;
  void sendServerSyn(ProxyEntry& p, const Connection& c) noexcept;
  void sendServerAck(const ProxyEntry& p, const Connection& c) noexcept;
  void completeProxy(std::uint32_t pidx, std::uint32_t tick) noexcept;
  void abortProxy(std::uint32_t pidx, bool rst_client, bool rst_server,
                  std::uint32_t tick) noexcept;
  void learnFrom(std::uint32_t svc, const Segment& synack) noexcept;
  void runProxyDeadlines(std::uint32_t tick) noexcept;
  void reapHalfOpen(std::uint32_t tick) noexcept;
  void emit(Direction dir, const TcpOut& seg) noexcept;

  EngineConfig cfg_;
  Secrets secrets_;
  Clock* clock_;
  PacketSink* sink_;
  ConnectionObserver* observer_;
  std::unique_ptr<ConnectionTable> table_;
  std::unique_ptr<HalfOpenAccounting> half_open_;
  EngineStats stats_;
  MonotonicTime epoch_{};
  MonotonicTime latest_{};
  bool started_ = false;
  std::uint32_t last_expire_tick_ = 0;
  std::size_t emergency_enter_ = 0;
  std::size_t emergency_leave_ = 0;
  std::size_t unassured_cap_ = 0;  ///< capacity * (1 - assured_reserve)

  const ServiceLoadSource* load_source_ = nullptr;
  ServiceMap services_;
  std::vector<ServiceRuntime> runtime_;
  std::unique_ptr<ProxyTable> proxies_;
  SynCookies cookies_;
  std::int64_t key_period_ = -1;
  std::chrono::seconds cookie_time_{0};  ///< wall seconds, read when a cookie is made or checked
  std::chrono::nanoseconds wall_{0};
  std::uint32_t cookie_counter_ = 0;  ///< cookie time counter for cookie_time_
  WrittenPacket out_{};
};

}  // namespace synguard::engine
