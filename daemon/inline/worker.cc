// A worker: one queue pair, one engine, one raw sender, on its own thread. Nothing on the
// packet path is shared or locked; the main thread reads the snapshots the worker publishes.
#include "daemon/inline/worker.h"

#include <poll.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <span>
#include <sstream>

#include "daemon/inline/log.h"
#include "daemon/inline/nft_rules.h"

namespace synguard::daemon {

void OthersLoad::othersLoad(std::size_t service, std::uint32_t& half_open,
                            double& syn_rate) const noexcept {
  for (std::size_t w = 0; w < shared_->workers(); ++w) {
    if (w == me_) {
      continue;
    }
    LoadSlot& s = shared_->slot(w, service);
    half_open += s.half_open.load(std::memory_order_relaxed);
    syn_rate += static_cast<double>(s.syn_rate.load(std::memory_order_relaxed));
  }
}

void ModeLogger::onModeChange(std::size_t service, const engine::ModeChange& c) noexcept {
  std::ostringstream os;
  os << "queue " << queue_ << ": service " << eng_->config().protection.services[service].name
     << ": " << engine::toString(c.from) << " -> " << engine::toString(c.to) << " (half-open "
     << c.half_open << ", SYN rate " << static_cast<long long>(c.syn_rate) << "/s)";
  logLine(LogLevel::kNotice, os.str());
}

void takeSnapshot(Worker& w) {
  engine::Engine& eng = *w.eng;
  const std::lock_guard<std::mutex> lock(w.mutex);
  w.snap.engine = eng.stats();
  w.snap.queue_stats = w.q->stats();
  w.snap.syn_queue = w.syn_queue;
  w.snap.syn_queue_stats = w.syn_q->stats();
  w.snap.syn_queue_drops = !w.syn_q->failOpen();
  w.snap.sender = w.sender->stats();
  w.snap.half_open = eng.halfOpen().global();
  w.snap.table = eng.table().size();
  w.snap.proxied_now = eng.proxies().size();
  w.snap.truncated_rewrites = w.truncated_rewrites;
  w.snap.queue = w.queue;
  w.snap.table_capacity = eng.table().capacity();
  w.snap.processing = w.processing;
  w.snap.services.resize(eng.serviceCount());
  for (std::size_t s = 0; s < eng.serviceCount(); ++s) {
    const engine::ServiceRuntime& rt = eng.service(s);
    ServiceFigures& f = w.snap.services[s];
    f.name = eng.config().protection.services[s].name;
    f.half_open = rt.half_open;
    f.peak_half_open = rt.peak_half_open;
    std::uint32_t ho = 0;
    eng.localLoad(s, ho, f.syn_rate);
    f.syns = rt.syns;
    f.cookies_sent = rt.cookies_sent;
    f.cookies_validated = rt.cookies_validated;
    f.cookies_rejected = rt.cookies_rejected;
    f.proxied = rt.proxied;
    f.mode_changes = rt.mode_changes;
    f.would_cookie = rt.would_cookie;
    f.would_drop = rt.would_drop;
    f.handshakes_completed = rt.handshakes_completed;
    f.mode = rt.mode.mode();
    f.profile = eng.cookieProfile(s);
  }
}

bool synQueueMustDrop(const engine::Engine& eng) {
  const engine::ProtectionConfig& p = eng.config().protection;
  if (p.dry_run) {
    return false;
  }
  for (std::size_t s = 0; s < eng.serviceCount() && s < p.services.size(); ++s) {
    if (dropsSynsOnOverload(p.services[s]) &&
        eng.service(s).mode.mode() == engine::ServiceMode::kCookie) {
      return true;
    }
  }
  return false;
}

namespace {

std::int64_t nowNs(const SystemClock& clock) { return clock.now().since_epoch.count(); }

/// Judges one batch of either queue and sends its verdicts.
void judgeBatch(Worker& w, NfQueue& q, std::span<QueuedPacket> pkts, const SystemClock& clock) {
  engine::Engine& eng = *w.eng;
  const std::int64_t batch_start = pkts.empty() ? 0 : nowNs(clock);
  for (std::size_t i = 0; i < pkts.size(); ++i) {
    if (i + 4 < pkts.size()) {
      eng.prefetch(pkts[i + 4].data, false);
    }
    QueuedPacket& p = pkts[i];
    engine::PacketMeta meta;
    meta.wire_length = p.wire_length > p.data.size() ? p.wire_length : 0;
    meta.checksum_partial = p.checksum_partial;
    meta.checksum_unverified = p.checksum_unverified && !p.checksum_partial;
    const engine::Verdict v = eng.processMutable(p.data, meta);
    NfQueue::Decision d =
        v.action == engine::Action::kAccept ? NfQueue::Decision::kAccept : NfQueue::Decision::kDrop;
    if (v.rewritten && meta.wire_length != 0) {
      // Only part of the packet was copied to us: handing the part back would cut it.
      d = NfQueue::Decision::kDrop;
      ++w.truncated_rewrites;
    }
    const std::uint32_t mark = v.reason == engine::VerdictReason::kProxied ? kMarkProxied
                               : v.bypass                                  ? kMarkBypassLearn
                                                                           : 0;
    q.verdict(i, d, mark, v.rewritten);
  }
  if (!pkts.empty()) {
    w.processing.record(nowNs(clock) - batch_start, pkts.size());
  }
  // Counted before they are sent: the main thread's accounting (rule hits - waiting -
  // verdicts - dropped) must never see a packet that left the kernel's queue in neither
  // figure, or it would count it as passed unprotected (counted twice meanwhile only
  // underestimates, and the next reading corrects it).
  w.verdicts.fetch_add(pkts.size(), std::memory_order_release);
  q.flushVerdicts();
}

/// Takes a configuration the main thread published, if there is a new one.
void applyReload(Worker& w, ReloadSlot& reload) {
  if (reload.generation.load(std::memory_order_acquire) ==
      w.applied_generation.load(std::memory_order_relaxed)) {
    return;
  }
  std::shared_ptr<const engine::EngineConfig> cfg;
  std::uint64_t gen = 0;
  {
    const std::lock_guard<std::mutex> lock(reload.mutex);
    cfg = reload.config;
    gen = reload.generation.load();
  }
  auto r = w.eng->reconfigure(*cfg);
  {
    const std::lock_guard<std::mutex> lock(w.mutex);
    w.reload_error = r ? std::string() : r.error().message;
  }
  takeSnapshot(w);  // service names and counts change with the configuration
  w.applied_generation.store(gen, std::memory_order_release);
}

/// The SYN queue follows the modes (checked every loop: a mode changes while packets are
/// judged, on a deadline, or on a reload). Fail-open on again once no drop_syn service is in
/// cookie mode: an overloaded daemon in normal mode lets SYNs through, as before.
void followSynQueueMode(Worker& w) {
  const bool drop = synQueueMustDrop(*w.eng);
  if (drop != w.syn_q->failOpen()) {
    return;
  }
  w.syn_q->setFailOpen(!drop);
  if (w.syn_q->failOpen() != drop) {
    logLine(LogLevel::kInfo,
            "queue " + std::to_string(w.syn_queue) +
                (drop ? ": SYNs to cookie-mode services are dropped while the queue is full"
                      : ": SYNs pass while the queue is full (no drop_syn service in "
                        "cookie mode)"));
  }
}

/// How long to wait for packets: until the engine's next deadline, at most 50 ms, not at all
/// while stopping.
int pollTimeoutMs(const engine::Engine& eng, const SystemClock& clock, bool stopping) {
  int timeout_ms = stopping ? 0 : 50;
  if (const auto next = eng.nextDeadline()) {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(*next - clock.now()).count();
    timeout_ms = static_cast<int>(std::clamp<long long>(ms, 0, timeout_ms));
  }
  return timeout_ms;
}

/// Publishes this worker's share of every service's load for the other workers.
void publishLoad(Worker& w, SharedLoad& shared) {
  engine::Engine& eng = *w.eng;
  for (std::size_t s = 0; s < eng.serviceCount(); ++s) {
    std::uint32_t ho = 0;
    double rate = 0;
    eng.localLoad(s, ho, rate);
    LoadSlot& slot = shared.slot(w.index, s);
    slot.half_open.store(ho, std::memory_order_relaxed);
    slot.syn_rate.store(static_cast<float>(rate), std::memory_order_relaxed);
  }
}

/// Worker 0 adds what the XDP program answered and dropped to its engine's figures and SYN-rate
/// meters (every ~100 ms; reads of per-CPU maps, no packet waits for them), so adaptive mode
/// sees the flood XDP answers and every counter still adds up.
void feedOffloaded(Worker& w, const WorkerContext& ctx, std::int64_t now) {
  if (ctx.xdp == nullptr || now - w.last_offload_ns < 100'000'000) {
    return;
  }
  const xdp::XdpProgram* prog = ctx.xdp->load(std::memory_order_acquire);
  if (prog == nullptr) {
    return;
  }
  w.last_offload_ns = now;
  engine::Engine& eng = *w.eng;
  for (std::size_t s = 0; s < eng.serviceCount() && s < SG_XDP_MAX_SERVICES; ++s) {
    const engine::OffloadedCounts d = w.offload.delta(s, prog->serviceCounters(s));
    if (xdp::anything(d)) {
      eng.noteOffloaded(s, d);
    }
  }
}

/// proxy.handoff: the ends conntrack reported, into the engine.
void takeHandoffNotices(Worker& w, const WorkerContext& ctx) {
  if (ctx.handoff == nullptr) {
    return;
  }
  ctx.handoff->takeNotices(w.index, w.notices);
  for (const HandoffNotice& n : w.notices) {
    w.eng->handoffEnded(n.tuple, n.how);
  }
  w.notices.clear();
}

}  // namespace

void workerLoop(Worker& w, const WorkerContext& ctx) {
  engine::Engine& eng = *w.eng;
  std::int64_t last_snap = 0;
  for (;;) {
    applyReload(w, ctx.reload);
    followSynQueueMode(w);
    const bool stopping = ctx.stop.load(std::memory_order_relaxed);
    std::array<pollfd, 2> fds{pollfd{w.q->fd(), POLLIN, 0}, pollfd{w.syn_q->fd(), POLLIN, 0}};
    const int ready = ::poll(fds.data(), fds.size(), pollTimeoutMs(eng, ctx.clock, stopping));
    // One batch of each per turn: under a SYN flood the SYN queue is always full, and the
    // cookie ACKs and established segments on the regular queue still get every other turn
    // (with one queue they waited behind the flood's SYNs).
    const std::span<QueuedPacket> pkts =
        ready > 0 && fds[0].revents != 0 ? w.q->receive(0) : std::span<QueuedPacket>{};
    judgeBatch(w, *w.q, pkts, ctx.clock);
    const std::span<QueuedPacket> syns =
        ready > 0 && fds[1].revents != 0 ? w.syn_q->receive(0) : std::span<QueuedPacket>{};
    judgeBatch(w, *w.syn_q, syns, ctx.clock);
    if (pkts.empty() && syns.empty() && stopping) {
      break;  // the rules are gone and the queues are drained
    }
    const std::int64_t now = nowNs(ctx.clock);
    feedOffloaded(w, ctx, now);
    takeHandoffNotices(w, ctx);
    eng.expire();  // delayed ACKs to servers, proxy give-ups, timeouts
    w.sender->flush();
    publishLoad(w, ctx.shared);
    w.heartbeat_ns.store(now, std::memory_order_relaxed);
    if (now - last_snap > 200'000'000) {
      last_snap = now;
      takeSnapshot(w);
    }
  }
}

std::vector<WorkerSnapshot> snapshots(const std::vector<std::unique_ptr<Worker>>& workers) {
  std::vector<WorkerSnapshot> v;
  v.reserve(workers.size());
  for (const auto& w : workers) {
    const std::lock_guard<std::mutex> lock(w->mutex);
    v.push_back(w->snap);
  }
  return v;
}

std::string statusLine(const std::vector<std::unique_ptr<Worker>>& workers) {
  const WorkerSnapshot t = sumSnapshots(snapshots(workers));
  std::vector<std::string> modes;
  for (const ServiceFigures& s : t.services) {
    modes.emplace_back(s.mode == engine::ServiceMode::kCookie ? "cookie" : "normal");
  }
  std::uint64_t dropped = 0;
  for (const auto d : t.engine.dropped) {
    dropped += d;
  }
  std::uint64_t rejected = 0;
  for (const auto r : t.engine.cookies_rejected) {
    rejected += r;
  }
  std::ostringstream os;
  os << "packets " << t.engine.packets << ", half-open " << t.half_open << ", table " << t.table
     << " (time-wait " << t.engine.connections_by_state[engine::index(engine::TcpState::kTimeWait)]
     << "), bypassed " << t.engine.bypass_started << ", cookies sent " << t.engine.cookies_sent
     << " validated " << t.engine.cookies_validated << " rejected " << rejected << ", proxied "
     << t.proxied_now << " (joined " << t.engine.proxy_completed << "), dropped " << dropped
     << ", mode changes " << t.engine.mode_changes << ", enobufs " << t.queue_stats.enobufs
     << ", failed open " << t.queue_stats.failed_open << ", verdict errors "
     << t.queue_stats.verdict_errors << ", cut rewrites " << t.truncated_rewrites << ", injected "
     << t.sender.sent << " (errors " << t.sender.errors << "), modes";
  for (const auto& m : modes) {
    os << " " << m;
  }
  return os.str();
}

}  // namespace synguard::daemon
