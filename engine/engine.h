#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "engine/clock.h"
#include "engine/connection_observer.h"
#include "engine/packet/segment.h"
#include "engine/packet_sink.h"
#include "engine/protect/protection.h"
#include "engine/protect/protector.h"
#include "engine/protect/proxy_table.h"
#include "engine/protect/service_load_source.h"
#include "engine/result.h"
#include "engine/secrets.h"
#include "engine/stats.h"
#include "engine/track/connection_table.h"
#include "engine/track/half_open.h"
#include "engine/track/tracker.h"
#include "engine/verdict.h"

namespace synguard::engine {

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

/// What the XDP fast path decided for one service since it was last asked (deltas).
struct OffloadedCounts {
  std::uint64_t syns_answered = 0;   ///< SYNs answered with a cookie SYN-ACK
  std::uint64_t bytes_answered = 0;  ///< their IP bytes
  std::uint64_t denied = 0;          ///< segments from deny-listed sources, dropped
  std::uint64_t denied_bytes = 0;
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

/// The packet-processing core, a pipeline of stages: parse (packet/), admit (Protector,
/// protect/), track (Tracker, track/) or proxy (Protector), count the verdict (docs/ENGINE.md).
/// Deterministic: bytes and time in, verdicts and counters out.
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
  /// A hint that packet `p` will be processed soon (a few packets from now): starts loading the
  /// cache lines its lookup will touch. `deep` also follows the bucket to its first slot — call
  /// it for packets nearer in line, whose bucket an earlier shallow hint has loaded. Lookahead
  /// over a batch hides the memory latency that dominates a flood of new tuples.
  void prefetch(std::span<const std::byte> p, bool deep) const noexcept;
  /// Runs deadlines up to clock.now().
  void expire() noexcept;
  /// Ends every connection (cause kFlushed), reporting each to the observer.
  void flush() noexcept;
  /// When expire() next has work that is not a timeout (a delayed ACK or a proxy give-up), so
  /// the caller's loop can wake for it; nullopt when nothing is scheduled.
  std::optional<MonotonicTime> nextDeadline() const noexcept;

  std::size_t serviceCount() const noexcept { return protector_.serviceCount(); }
  /// Adds other engines' load to this engine's mode decisions (nullptr: this engine alone).
  void setLoadSource(const ServiceLoadSource* source) noexcept { protector_.setLoadSource(source); }
  /// This engine's own share of a service's load, for publishing to the others.
  void localLoad(std::size_t service, std::uint32_t& half_open, double& syn_rate) noexcept {
    protector_.localLoad(service, half_open, syn_rate);
  }
  const ServiceRuntime& service(std::size_t i) const noexcept { return protector_.service(i); }
  /// What a cookie SYN-ACK for service `i` announces now (learned profile after overrides): the
  /// XDP fast path answers with the same options.
  ServerProfile cookieProfile(std::size_t i) const noexcept {
    return protector_.cookieProfile(static_cast<std::uint32_t>(i));
  }
  /// Adds what the XDP fast path decided for service `service` since the last call to this
  /// engine's figures, as if this engine had judged those packets: packets, bytes and verdicts
  /// (cookie_sent, denied), the service's SYNs, SYN rate and cookies sent, the global SYN rate.
  /// The mode machine runs on the sum, so adaptive mode sees a flood XDP answers. Per-source
  /// and per-destination SYN counters do not see these SYNs. Ignored for a service index the
  /// engine does not have (a reload removed it).
  void noteOffloaded(std::size_t service, const OffloadedCounts& counts) noexcept;
  /// proxy.handoff: conntrack reports that a connection handed to it closed (kClosed: TIME_WAIT;
  /// the engine keeps the tuple in its own TIME-WAIT and releases the proxy entry with its
  /// per-source count) or is gone (kGone: the engine forgets it), or the daemon could not hand
  /// it over (kTakenBack: the engine goes on translating it). `tuple` in either
  /// orientation. Ignored unless the tuple's connection is one the engine handed off and has
  /// not taken back: a later connection on the same tuple is left alone.
  void handoffEnded(const FlowKey& tuple, HandoffEnd how) noexcept;
  const ServiceConfig& serviceConfig(std::size_t i) const noexcept {
    return protector_.serviceConfig(i);
  }
  /// The configured service a destination belongs to (ServiceMap::kNone if none).
  std::uint32_t findService(const IpAddress& dst, std::uint16_t port) const noexcept {
    return protector_.findService(dst, port);
  }
  const ProxyTable& proxies() const noexcept { return protector_.proxies(); }
  /// A proxied connection's translation state, or nullptr.
  const ProxyEntry* proxyOf(const Connection& c) const noexcept {
    return (c.flags & kConnProxied) != 0 ? &protector_.proxies().at(c.proxyEntry()) : nullptr;
  }

  const EngineStats& stats() const noexcept { return stats_; }
  const ConnectionTable& table() const noexcept { return tracker_.table(); }
  const HalfOpenAccounting& halfOpen() const noexcept { return tracker_.halfOpen(); }
  HalfOpenAccounting& halfOpen() noexcept { return tracker_.halfOpen(); }
  const EngineConfig& config() const noexcept { return cfg_; }
  /// A configuration reload, keeping the connection table, the proxied connections and the
  /// counters. Services are matched by name (a kept one keeps its mode, rates and learned
  /// profile). Sizes fixed at start (table, proxy, accounting capacities) and the cookie MSS
  /// tables and key period are kept from the running configuration; the secrets given to
  /// create() stay. Nothing changes if the new configuration is invalid.
  Result<void> reconfigure(const EngineConfig& next);
  /// Puts back into `next` what reconfigure() keeps from the `running` configuration (the sizes
  /// fixed at start, the cookie layout and key period); returns the names of those `next` had
  /// changed, for a "needs a restart" message.
  static std::vector<const char*> keepOnReload(EngineConfig& next, const EngineConfig& running);
  /// Everything create() checks of a configuration, without building an engine (a reload is
  /// checked once before any worker applies it).
  static Result<void> check(const EngineConfig& cfg);

  /// Engine ticks (wrapping milliseconds since the first packet) for a time.
  std::uint32_t tickOf(MonotonicTime t) const noexcept { return tracker_.tickOf(t); }
  /// Absolute time of a tick at or before the latest time seen.
  MonotonicTime timeOfTick(std::uint32_t tick) const noexcept { return tracker_.timeOfTick(tick); }
  /// The timeout a connection in state `s` has now (emergency ones while the table is full).
  std::chrono::milliseconds timeoutFor(TcpState s) const noexcept { return tracker_.timeoutFor(s); }

  // The stages hold pointers to the engine's counters and to each other: a move re-binds them.
  Engine(Engine&& other) noexcept;
  Engine& operator=(Engine&& other) noexcept;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;
  ~Engine() = default;

 private:
  Engine(const EngineConfig& cfg, const Secrets& secrets, Clock& clock, PacketSink& sink,
         ConnectionObserver* observer, ServiceMap services, std::vector<ServiceRuntime> runtime);

  void bindStages() noexcept;
  void expireUntil(std::uint32_t tick) noexcept;
  /// The pipeline for one packet; its verdict is counted by the caller.
  Verdict processImpl(std::span<const std::byte> packet, std::byte* writable,
                      const PacketMeta& meta) noexcept;
  /// What is not a whole TCP segment (`err` is not kNone): later fragments, ICMP errors and
  /// other protocols, malformed packets.
  Verdict admitUnparsed(ParseError err, const Segment& seg, std::span<const std::byte> packet,
                        std::byte* writable) noexcept;
  void countSegment(const Segment& seg, std::span<const std::byte> packet,
                    const ParseOptions& popts) noexcept;
  /// A segment of a connection the table holds, tracked; a server's SYN-ACK teaches the
  /// Protector what the server offers.
  Verdict trackHeld(const ConnectionTable::Found& found, const Segment& seg,
                    const HalfOpenAccounting::SynRefs* syn_refs, std::uint32_t tick) noexcept;
  /// A segment no connection holds and protection let through: refused as a stray, started
  /// (a SYN) or picked up mid-stream.
  Verdict open(const FlowKey& tuple, std::uint64_t hash, const Segment& seg,
               const HalfOpenAccounting::SynRefs* syn_refs, std::uint32_t tick) noexcept;

  EngineConfig cfg_;
  Clock* clock_;
  EngineStats stats_;
  std::uint32_t last_expire_tick_ = 0;
  Tracker tracker_;
  Protector protector_;
};

}  // namespace synguard::engine
