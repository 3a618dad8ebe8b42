#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "engine/clock.h"
#include "engine/connection_observer.h"
#include "engine/packet/segment.h"
#include "engine/packet/tcp_writer.h"
#include "engine/packet_sink.h"
#include "engine/protect/icmp.h"
#include "engine/protect/protection.h"
#include "engine/protect/proxy_table.h"
#include "engine/protect/service_load_source.h"
#include "engine/protect/syn_cookie.h"
#include "engine/result.h"
#include "engine/stats.h"
#include "engine/track/track_listener.h"
#include "engine/track/tracker.h"
#include "engine/verdict.h"

namespace synguard::engine {

/// The protection stage: the configured services and their adaptive modes, deny and allow
/// lists, per-source limits, SYN cookies (their keys and wall-clock time) and the proxy that
/// joins a client who returned a valid cookie to the real server. It admits what has no
/// connection yet (or refuses it), runs proxied connections' segments and timers, and calls the
/// Tracker below it; the Tracker reports half-open changes and ends back through TrackListener.
/// Verdicts it returns are not counted: the pipeline counts each packet's once.
/// Not thread-safe; bound to the engine's counters and tracker by bind() (again after a move).
class Protector final : public TrackListener {
 public:
  Protector(const ProtectionConfig& cfg, const SipKey& master_key, PacketSink& sink,
            ConnectionObserver* observer, ServiceMap services, std::vector<ServiceRuntime> runtime);

  void bind(EngineStats& stats, Tracker& tracker) noexcept {
    stats_ = &stats;
    tracker_ = &tracker;
  }
  /// Applies a validated configuration; services are matched by name (a kept one keeps its
  /// mode, rates, counters and learned profile). Nothing changes when it fails.
  Result<void> reconfigure(const ProtectionConfig& next);

  std::size_t serviceCount() const noexcept { return runtime_.size(); }
  const ServiceRuntime& service(std::size_t i) const noexcept { return runtime_[i]; }
  const ServiceConfig& serviceConfig(std::size_t i) const noexcept { return cfg_.services[i]; }
  std::uint32_t findService(const IpAddress& dst, std::uint16_t port) const noexcept {
    return services_.find(dst, port);
  }
  const ProxyTable& proxies() const noexcept { return *proxies_; }
  void setLoadSource(const ServiceLoadSource* source) noexcept { load_source_ = source; }
  void localLoad(std::size_t svc, std::uint32_t& half_open, double& syn_rate) noexcept;
  /// What a cookie SYN-ACK for service `svc` announces: the profile learned from the server's
  /// own SYN-ACKs (or the defaults), after the service's mss/wscale overrides.
  ServerProfile cookieProfile(std::uint32_t svc) const noexcept { return profileFor(svc); }
  /// SYNs to `svc` another path answered with this engine's cookies (the XDP fast path): they
  /// count as this engine's own (SYNs, SYN rate, cookies sent) and the mode machine sees them.
  void noteOffloadedSyns(std::uint32_t svc, std::uint32_t n, std::uint32_t tick,
                         MonotonicTime now) noexcept;

  /// The service a TCP segment is addressed to, looked up only when something here may act on
  /// it (`may_open`: a SYN, or no connection holds it; else only the deny list).
  std::uint32_t serviceFor(const Segment& seg, bool may_open) const noexcept {
    if (runtime_.empty() || (!may_open && cfg_.deny.empty())) {
      return ServiceMap::kNone;
    }
    return services_.find(seg.dst, seg.dst_port);
  }
  /// Every segment to service `svc`, before tracking: the deny list, and a SYN's checksum when
  /// nothing has verified it. A verdict when the segment stops here.
  std::optional<Verdict> screen(std::uint32_t svc, const Segment& seg,
                                std::span<const std::byte> packet, bool syn,
                                bool checksum_unverified) noexcept {
    if (cfg_.deny.empty() && !(syn && checksum_unverified)) {
      return std::nullopt;
    }
    return screenSlow(svc, seg, packet, syn, checksum_unverified);
  }
  /// A segment with no connection to service `svc`: a SYN (lists, limits, cookie mode), a cookie
  /// ACK (the proxy starts), a first fragment or a stray. nullopt: track it as usual.
  std::optional<Verdict> admit(std::uint32_t svc, const FlowKey& tuple, std::uint64_t hash,
                               const Segment& seg, const HalfOpenAccounting::SynRefs& refs,
                               std::span<const std::byte> packet, bool syn, std::uint32_t tick,
                               MonotonicTime now, const Clock& clock) noexcept {
    // Inline: each case's verdict goes straight to the pipeline (no copy through this level).
    if (syn) {
      return admitSyn(svc, tuple, seg, refs, tick, now, clock);
    }
    if (seg.first_fragment) [[unlikely]] {
      return admitFirstFragment(svc);
    }
    if (seg.has(kAck) && !seg.has(kSyn) && !seg.has(kRst)) {
      return admitAck(svc, tuple, hash, seg, packet, tick, clock);
    }
    return admitStray(svc);
  }
  /// A segment with no connection from the server's side of a service in cookie mode: nothing
  /// it could start is legitimate while its clients come through cookies (their connections
  /// are proxied), and a spoofed one would make an entry a later SYN finds.
  std::optional<Verdict> admitFromServer(const Segment& seg) noexcept {
    if (runtime_.empty()) {
      return std::nullopt;
    }
    return fromServerSide(seg);
  }
  /// A pickup's orientation: the segment comes from a configured service (to an address that
  /// is not one), so its sender is the responder whatever its port.
  bool fromService(const Segment& seg) const noexcept {
    return !runtime_.empty() && services_.find(seg.src, seg.src_port) != ServiceMap::kNone &&
           services_.find(seg.dst, seg.dst_port) == ServiceMap::kNone;
  }
  /// A later TCP fragment (not reassembled here; the rules queue every fragment to a protected
  /// address): dropped while a service on its destination is in cookie mode, because whatever
  /// it reassembles into at the server was never validated.
  std::optional<Verdict> admitFragment(const Segment& seg) noexcept;
  /// A TCP fragment that hides or overlaps the TCP header (ParseError::kTinyFragment,
  /// kOverlappingFragment): dropped, in every mode, when a protected service lives on its
  /// destination address (we cannot classify what it carries, so it must not pass).
  std::optional<Verdict> admitUnsafeFragment(const Segment& seg) noexcept;
  /// An ICMP error quoting a TCP segment (protector_icmp.cc): translated when it concerns a
  /// proxied connection, dropped when malformed or (in cookie mode) about no connection.
  /// nullopt: not such an error, accept it as any other non-TCP packet.
  std::optional<Verdict> admitIcmp(std::span<const std::byte> packet, std::byte* writable) noexcept;

  /// proxy.handoff: what conntrack reported of connection `idx` (Engine::handoffEnded).
  void handoffEnded(std::uint32_t idx, HandoffEnd how, std::uint32_t tick) noexcept;
  /// A segment of a proxied connection (protector_proxy.cc): the handshake with the server,
  /// then every segment translated between the two sequence spaces (in place when `writable`).
  Verdict proxied(std::uint32_t idx, bool from_orig, Segment& seg,
                  std::span<const std::byte> packet, std::byte* writable, bool checksum_partial,
                  std::uint32_t tick) noexcept;
  /// A tracked server's SYN-ACK: what it offers is what cookie answers offer for it.
  void learnProfile(const Connection& c, const Segment& synack) noexcept;

  /// Proxy timers due by `tick` (a delayed ACK to the server, a server that never answered).
  void runProxyDeadlines(std::uint32_t tick) noexcept;
  /// Resets the server's oldest SYN-RECEIVED connections of services in cookie mode.
  void reapHalfOpen(std::uint32_t tick) noexcept;
  /// Every service's mode, on its load now.
  void updateModes(std::uint32_t tick, MonotonicTime now) noexcept;

  // TrackListener.
  void onHalfOpenEntered(const Connection& c) noexcept override;
  void onHalfOpenLeft(const Connection& c) noexcept override;
  void onConnectionEnd(Connection& c, EndCause cause) noexcept override;

 private:
  /// Drop for reason `r`, or in monitor mode count what would have been dropped and return an
  /// accept the caller goes on from.
  Verdict dropOrWould(std::uint32_t svc, VerdictReason r) noexcept;
  bool monitoring(std::uint32_t svc) const noexcept;
  /// screen() when there is something to screen: a deny list, an unverified SYN.
  std::optional<Verdict> screenSlow(std::uint32_t svc, const Segment& seg,
                                    std::span<const std::byte> packet, bool syn,
                                    bool checksum_unverified) noexcept;
  std::optional<Verdict> fromServerSide(const Segment& seg) noexcept;
  void updateMode(std::uint32_t svc, std::uint32_t tick, MonotonicTime now) noexcept;
  /// A SYN that may start a connection to service `svc`: deny/allow lists, per-source limits,
  /// cookie mode. Returns a verdict when the SYN is handled here, nullopt to track it.
  std::optional<Verdict> admitSyn(std::uint32_t svc, const FlowKey& tuple, const Segment& seg,
                                  const HalfOpenAccounting::SynRefs& refs, std::uint32_t tick,
                                  MonotonicTime now, const Clock& clock) noexcept;
  /// Per-source limits on a SYN: its prefix's SYN rate and (outside cookie mode, where no SYN
  /// makes a half-open connection) its half-open connections.
  std::optional<Verdict> limitSource(std::uint32_t svc, const HalfOpenAccounting::SynRefs& refs,
                                     bool cookie, MonotonicTime now) noexcept;
  /// Answers a SYN with a cookie SYN-ACK, offering what the server does (profileFor).
  void sendCookie(std::uint32_t svc, const FlowKey& tuple, const Segment& seg) noexcept;
  /// An ACK with no connection, to a protected service: a returning cookie?
  std::optional<Verdict> admitAck(std::uint32_t svc, const FlowKey& tuple, std::uint64_t hash,
                                  const Segment& seg, std::span<const std::byte> packet,
                                  std::uint32_t tick, const Clock& clock) noexcept;
  /// A segment with no connection that cannot open one (RST, SYN-ACK, no ACK flag), to a
  /// protected service: dropped in cookie mode (nothing of a flood reaches the server), tracked
  /// as a stray otherwise.
  std::optional<Verdict> admitStray(std::uint32_t svc) noexcept;
  /// A first fragment with no connection that is not a SYN, to service `svc`: dropped in
  /// cookie mode (a cookie ACK is never validated from a fragment: the proxy cannot see the
  /// rest of the datagram), tracked as any segment otherwise.
  std::optional<Verdict> admitFirstFragment(std::uint32_t svc) noexcept;
  /// An ICMP error about a tuple with no connection (protector_icmp.cc).
  Verdict icmpWithoutConnection(const IcmpQuote& q) noexcept;
  /// An ICMP error about a proxied connection: translated once the connection is joined.
  Verdict icmpOfProxied(const IcmpQuote& q, const ProxyEntry& p, bool to_server,
                        std::span<const std::byte> packet, std::byte* writable) noexcept;
  void readWall(const Clock& clock) noexcept;
  std::uint32_t cookieTsNow() const noexcept;
  ServerProfile profileFor(std::uint32_t svc) const noexcept;
  void learnFrom(std::uint32_t svc, const Segment& synack) noexcept;
  /// A valid cookie ACK: the proxied connection starts (its entry, the handshake the client
  /// saw replayed to the tracker, our SYN to the server).
  Verdict startProxy(std::uint32_t svc, const FlowKey& tuple, std::uint64_t hash,
                     const Segment& seg, std::uint16_t client_mss,
                     std::span<const std::byte> packet, std::uint32_t tick) noexcept;
  /// The proxy entries a source prefix holds (proxy.max_per_source): false when it is at its
  /// cap; `source` is its counter entry, kNoIndex when unlimited.
  bool reserveProxySource(const Segment& seg, std::uint32_t& source) noexcept;
  void initProxyEntry(ProxyEntry& p, std::uint32_t svc, const Segment& seg,
                      std::uint16_t client_mss, const CookieTsOptions& o) noexcept;
  void measureClientRtt(ServiceRuntime& rt, ProxyEntry& p, const Segment& seg) noexcept;
  void replayHandshake(std::uint32_t idx, const ProxyEntry& p, const Segment& seg,
                       const CookieTsOptions& o, std::uint32_t tick) noexcept;
  /// Keeps a client segment sent before the server is ready (counted kept or dropped).
  void holdEarly(std::uint32_t pidx, std::span<const std::byte> packet) noexcept;
  Verdict fromClient(std::uint32_t idx, Segment& seg, std::span<const std::byte> packet,
                     std::span<std::byte> bytes, bool checksum_partial,
                     std::uint32_t tick) noexcept;
  /// A client segment while the server's handshake is pending: an exact RST aborts, a retry
  /// may resend our SYN, data is held.
  Verdict clientBeforeServer(std::uint32_t pidx, const Segment& seg, bool rst_exact,
                             std::span<const std::byte> packet, std::uint32_t tick) noexcept;
  Verdict fromServer(std::uint32_t idx, Segment& seg, std::span<std::byte> bytes,
                     bool checksum_partial, std::uint32_t tick) noexcept;
  /// The server's SYN-ACK to our SYN: the translation is set, our ACK sent (or delayed).
  void acceptServerSynAck(std::uint32_t pidx, const Segment& seg, std::uint32_t tick) noexcept;
  void sendServerSyn(ProxyEntry& p, const Connection& c) noexcept;
  void sendServerAck(const ProxyEntry& p, const Connection& c) noexcept;
  void completeProxy(std::uint32_t pidx, std::uint32_t tick) noexcept;
  /// proxy.handoff: offers an established proxied connection to the observer, or counts why not.
  void offerHandoff(ProxyEntry& p, const Connection& c) noexcept;
  /// A segment of a handed-off connection reached the engine: a client SYN is dropped (the
  /// daemon asks conntrack whether the connection is over); a FIN or RST takes it back.
  std::optional<Verdict> reachedHandedOff(ProxyEntry& p, const Connection& c, bool from_orig,
                                          const Segment& seg) noexcept;
  void abortProxy(std::uint32_t pidx, bool rst_client, bool rst_server,
                  std::uint32_t tick) noexcept;
  void releaseProxy(std::uint32_t pidx) noexcept;
  /// Puts proxied connection `idx` in `state` (both endpoints) and frees its proxy entry: the
  /// table keeps the tuple, no longer translated.
  void unproxy(std::uint32_t idx, TcpState state, std::uint32_t tick) noexcept;
  void emit(Direction dir, const TcpOut& seg) noexcept;
  /// A segment the proxy sends on a connection's behalf: client -> server (`to_server`) or back.
  static TcpOut segmentOn(const FlowKey& k, bool to_server) noexcept;

  ProtectionConfig cfg_;
  SipKey master_key_;
  PacketSink* sink_;
  ConnectionObserver* observer_;
  EngineStats* stats_ = nullptr;
  Tracker* tracker_ = nullptr;
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
