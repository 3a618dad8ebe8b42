// synguard run: the inline daemon. One worker thread per NFQUEUE queue, each with its own
// engine, queue socket and raw sockets; the main thread handles signals, sd_notify and the
// status line. See docs/DAEMON.md.
#include "daemon/inline/run.h"

#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "daemon/inline/cookie_key_file.h"
#include "daemon/inline/log.h"
#include "daemon/inline/metrics.h"
#include "daemon/inline/nfqueue.h"
#include "daemon/inline/raw_sender.h"
#include "daemon/inline/route_lookup.h"
#include "daemon/inline/system_clock.h"
#include "daemon/inline/worker_snapshot.h"
#include "engine/limits.h"

namespace synguard::daemon {

namespace {

/// What each worker publishes for the others: its share of every service's load. One cache
/// line per (worker, service); written by its worker only, read by the others.
struct alignas(64) LoadSlot {
  std::atomic<std::uint32_t> half_open{0};
  std::atomic<float> syn_rate{0};
};

class SharedLoad {
 public:
  SharedLoad(std::size_t workers, std::size_t services)
      : workers_(workers), services_(services), slots_(workers * services) {}
  LoadSlot& slot(std::size_t worker, std::size_t service) {
    return slots_[worker * services_ + service];
  }
  std::size_t workers() const { return workers_; }
  std::size_t services() const { return services_; }

 private:
  std::size_t workers_;
  std::size_t services_;
  std::vector<LoadSlot> slots_;
};

class OthersLoad : public engine::ServiceLoadSource {
 public:
  OthersLoad(SharedLoad& shared, std::size_t me) : shared_(&shared), me_(me) {}
  void othersLoad(std::size_t service, std::uint32_t& half_open,
                  double& syn_rate) const noexcept override {
    for (std::size_t w = 0; w < shared_->workers(); ++w) {
      if (w == me_) {
        continue;
      }
      LoadSlot& s = shared_->slot(w, service);
      half_open += s.half_open.load(std::memory_order_relaxed);
      syn_rate += static_cast<double>(s.syn_rate.load(std::memory_order_relaxed));
    }
  }

 private:
  SharedLoad* shared_;
  std::size_t me_;
};

/// Logs mode changes as they happen (a handful per flood, never per packet).
class ModeLogger : public engine::ConnectionObserver {
 public:
  explicit ModeLogger(std::uint16_t queue) : queue_(queue) {}
  void setEngine(const engine::Engine* eng) { eng_ = eng; }
  void onConnectionEnd(const engine::Connection&, engine::EndCause) noexcept override {}
  void onModeChange(std::size_t service, const engine::ModeChange& c) noexcept override {
    std::ostringstream os;
    os << "queue " << queue_ << ": service " << eng_->config().protection.services[service].name
       << ": " << engine::toString(c.from) << " -> " << engine::toString(c.to) << " (half-open "
       << c.half_open << ", SYN rate " << static_cast<long long>(c.syn_rate) << "/s)";
    logLine(LogLevel::kNotice, os.str());
  }

 private:
  std::uint16_t queue_;
  const engine::Engine* eng_ = nullptr;
};

using Snapshot = WorkerSnapshot;

struct Worker {
  std::uint16_t queue = 0;
  std::uint16_t syn_queue = 0;  ///< queue + queues: SYNs of overload drop_syn services
  std::size_t index = 0;
  std::unique_ptr<NfQueue> q;
  std::unique_ptr<NfQueue> syn_q;
  std::unique_ptr<RawSender> sender;
  std::unique_ptr<ModeLogger> logger;
  std::unique_ptr<OthersLoad> others;
  std::optional<engine::Engine> eng;
  std::thread thread;
  std::atomic<std::int64_t> heartbeat_ns{0};
  std::mutex mutex;
  Snapshot snap;
  std::uint64_t truncated_rewrites = 0;
  ProcessingHistogram processing;                    ///< written by the worker, copied into snap
  std::atomic<std::uint64_t> applied_generation{0};  ///< last ReloadSlot generation taken
  std::atomic<std::uint64_t> verdicts{0};            ///< verdicts given, both queues (any thread)
  std::string reload_error;                          ///< of that generation (under mutex)
};

std::atomic<bool> g_stop{false};

using engine::kMaxServices;

/// A new engine configuration for the workers (SIGHUP): published by the main thread, taken by
/// each worker between two batches (engines are single-threaded).
struct ReloadSlot {
  std::mutex mutex;
  std::shared_ptr<const engine::EngineConfig> config;
  std::atomic<std::uint64_t> generation{0};
};

/// Copies a worker's figures for the main thread (status line, STATUS=, the final line).
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
    f.mode = rt.mode.mode();
  }
}

/// Whether the worker's SYN queue must drop on overflow: some service whose SYNs go there
/// (dropsSynsOnOverload) is in cookie mode in this engine (its mode machine decides on the
/// load summed over all workers), and the engine enforces (not a dry run or monitor service).
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

void workerLoop(Worker& w, SharedLoad& shared, ReloadSlot& reload, const SystemClock& clock) {
  engine::Engine& eng = *w.eng;
  std::int64_t last_snap = 0;
  const auto nowNs = [&] { return clock.now().since_epoch.count(); };
  // Judges one batch of either queue and sends its verdicts.
  const auto judge = [&](NfQueue& q, std::span<QueuedPacket> pkts) {
    const std::int64_t batch_start = pkts.empty() ? 0 : nowNs();
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
      NfQueue::Decision d = v.action == engine::Action::kAccept ? NfQueue::Decision::kAccept
                                                                : NfQueue::Decision::kDrop;
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
      w.processing.record(nowNs() - batch_start, pkts.size());
    }
    // Counted before they are sent: the main thread's accounting (rule hits - waiting -
    // verdicts - dropped) must never see a packet that left the kernel's queue in neither
    // figure, or it would count it as passed unprotected (counted twice meanwhile only
    // underestimates, and the next reading corrects it).
    w.verdicts.fetch_add(pkts.size(), std::memory_order_release);
    q.flushVerdicts();
  };
  for (;;) {
    if (reload.generation.load(std::memory_order_acquire) !=
        w.applied_generation.load(std::memory_order_relaxed)) {
      std::shared_ptr<const engine::EngineConfig> cfg;
      std::uint64_t gen = 0;
      {
        const std::lock_guard<std::mutex> lock(reload.mutex);
        cfg = reload.config;
        gen = reload.generation.load();
      }
      auto r = eng.reconfigure(*cfg);
      {
        const std::lock_guard<std::mutex> lock(w.mutex);
        w.reload_error = r ? std::string() : r.error().message;
      }
      takeSnapshot(w);  // service names and counts change with the configuration
      w.applied_generation.store(gen, std::memory_order_release);
    }
    // The SYN queue follows the modes (checked every loop: a mode changes while packets are
    // judged, on a deadline, or on a reload). Fail-open on again once no drop_syn service is
    // in cookie mode: an overloaded daemon in normal mode lets SYNs through, as before.
    if (const bool drop = synQueueMustDrop(eng); drop == w.syn_q->failOpen()) {
      w.syn_q->setFailOpen(!drop);
      if (w.syn_q->failOpen() != drop) {
        logLine(LogLevel::kInfo,
                "queue " + std::to_string(w.syn_queue) +
                    (drop ? ": SYNs to cookie-mode services are dropped while the queue is full"
                          : ": SYNs pass while the queue is full (no drop_syn service in "
                            "cookie mode)"));
      }
    }
    const bool stopping = g_stop.load(std::memory_order_relaxed);
    int timeout_ms = stopping ? 0 : 50;
    if (const auto next = eng.nextDeadline()) {
      const auto ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(*next - clock.now()).count();
      timeout_ms = static_cast<int>(std::clamp<long long>(ms, 0, timeout_ms));
    }
    std::array<pollfd, 2> fds{pollfd{w.q->fd(), POLLIN, 0}, pollfd{w.syn_q->fd(), POLLIN, 0}};
    const int ready = ::poll(fds.data(), fds.size(), timeout_ms);
    // One batch of each per turn: under a SYN flood the SYN queue is always full, and the
    // cookie ACKs and established segments on the regular queue still get every other turn
    // (with one queue they waited behind the flood's SYNs).
    const std::span<QueuedPacket> pkts =
        ready > 0 && fds[0].revents != 0 ? w.q->receive(0) : std::span<QueuedPacket>{};
    judge(*w.q, pkts);
    const std::span<QueuedPacket> syns =
        ready > 0 && fds[1].revents != 0 ? w.syn_q->receive(0) : std::span<QueuedPacket>{};
    judge(*w.syn_q, syns);
    if (pkts.empty() && syns.empty() && stopping) {
      break;  // the rules are gone and the queues are drained
    }
    eng.expire();  // delayed ACKs to servers, proxy give-ups, timeouts
    w.sender->flush();
    for (std::size_t s = 0; s < eng.serviceCount(); ++s) {
      std::uint32_t ho = 0;
      double rate = 0;
      eng.localLoad(s, ho, rate);
      LoadSlot& slot = shared.slot(w.index, s);
      slot.half_open.store(ho, std::memory_order_relaxed);
      slot.syn_rate.store(static_cast<float>(rate), std::memory_order_relaxed);
    }
    const std::int64_t now = nowNs();
    w.heartbeat_ns.store(now, std::memory_order_relaxed);
    if (now - last_snap > 200'000'000) {
      last_snap = now;
      takeSnapshot(w);
    }
  }
}

Result<void> dropPrivileges(const std::string& user) {
  // Keep exactly CAP_NET_ADMIN (queues, rules, marks) and CAP_NET_RAW (raw sockets).
  if (!user.empty()) {
    const passwd* pw = ::getpwnam(user.c_str());
    if (pw == nullptr) {
      return Unexpected{Error{"user '" + user + "' does not exist"}};
    }
    // Already that user (systemd's User= did it; setgroups would need CAP_SETGID): nothing
    // to change but the capabilities.
    const bool already = ::getuid() == pw->pw_uid && ::geteuid() == pw->pw_uid &&
                         ::getgid() == pw->pw_gid && ::getegid() == pw->pw_gid;
    if (already) {
      // fall through to the capability set below
    } else if (::prctl(PR_SET_KEEPCAPS, 1) != 0 || ::setgroups(0, nullptr) != 0 ||
               ::setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0 ||
               ::setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0) {
      return Unexpected{
          Error{std::string("cannot become '") + user + "': " + std::strerror(errno)}};
    }
  }
  cap_t caps = cap_init();
  const cap_value_t keep[] = {CAP_NET_ADMIN, CAP_NET_RAW};
  cap_set_flag(caps, CAP_PERMITTED, 2, keep, CAP_SET);
  cap_set_flag(caps, CAP_EFFECTIVE, 2, keep, CAP_SET);
  cap_set_flag(caps, CAP_INHERITABLE, 2, keep, CAP_SET);
  const int rc = cap_set_proc(caps);
  cap_free(caps);
  if (rc != 0) {
    return Unexpected{Error{std::string("cannot limit capabilities: ") + std::strerror(errno)}};
  }
  // Ambient too, so the iptables-nft-restore the rule fallback runs at stop keeps them.
  for (const cap_value_t c : keep) {
    if (cap_set_ambient(c, CAP_SET) != 0) {
      return Unexpected{
          Error{std::string("cannot keep capabilities for helpers: ") + std::strerror(errno)}};
    }
  }
  return {};
}

std::string statusLine(std::vector<std::unique_ptr<Worker>>& workers) {
  std::vector<Snapshot> snaps;
  snaps.reserve(workers.size());
  for (auto& w : workers) {
    const std::lock_guard<std::mutex> lock(w->mutex);
    snaps.push_back(w->snap);
  }
  const Snapshot t = sumSnapshots(snaps);
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

/// Logs the side each service's own segments may come from (the anti-spoofing check).
void logSides(const std::vector<engine::ServiceConfig>& services, const RuleOptions& ropts) {
  for (const SideLine& l : describeSides(services, ropts)) {
    logLine(l.level, l.text);
  }
}

/// The anti-spoofing totals and the lock the exporter's scrapes take to read them.
struct SpoofedTotals {
  RuleCounterTotals& totals;
  std::mutex& mutex;
};

/// SIGHUP: reads the configuration again, checks it whole, re-installs the rules if the
/// services' addresses, ports or anti-spoofing settings changed, and has every worker apply it
/// between two batches. Connections, proxied connections and counters stay. Returns what changed,
/// or why nothing did.
Result<std::string> reloadConfig(RunOptions& current, RuleOptions& ropts, SpoofedTotals spoofed,
                                 std::optional<NftRules>& rules,
                                 std::vector<std::unique_ptr<Worker>>& workers,
                                 ReloadSlot& reload) {
  if (!current.reload) {
    return Unexpected{Error{"started without a configuration file (--config)"}};
  }
  auto loaded = current.reload();
  if (!loaded) {
    return Unexpected{loaded.error()};
  }
  RunOptions next = std::move(*loaded);
  // The key file is not read again: the engines keep the secrets they were created with (a new
  // key_file is reported below as needing a restart).
  engine::EngineConfig cfg = next.engine;
  cfg.bypass_established = current.engine.bypass_established;
  if (cfg.protection.services.empty()) {
    return Unexpected{Error{"no service to protect"}};
  }
  if (cfg.protection.services.size() > kMaxServices) {
    return Unexpected{Error{"more than " + std::to_string(kMaxServices) + " services"}};
  }
  if (auto ok = engine::Engine::check(cfg); !ok) {
    return Unexpected{ok.error()};
  }
  std::vector<std::string> kept;
  const auto keep = [&kept](bool changed, const char* what) {
    if (changed) {
      kept.emplace_back(what);
    }
  };
  keep(next.queues != 0 && next.queues != current.queues, "queues");
  keep(next.first_queue != current.first_queue, "first queue");
  keep(next.rule_mode != current.rule_mode, "rule mode");
  keep(next.nft_table != current.nft_table, "nftables table");
  keep(next.bypass != current.bypass, "bypass");
  keep(next.key_file != current.key_file, "key file");
  keep(next.user != current.user, "user");
  keep(next.metrics_listen != current.metrics_listen, "metrics listen address");
  keep(cfg.table_capacity != current.engine.table_capacity, "table capacity");
  keep(cfg.protection.proxy.capacity != current.engine.protection.proxy.capacity, "proxy capacity");
  keep(cfg.protection.key_rotation != current.engine.protection.key_rotation, "key rotation");
  // Engine::reconfigure keeps these too (the accounting's tables are sized at start, cookies
  // already handed out depend on the cookie layout): say so rather than keep them silently.
  const engine::HalfOpenConfig& ho_new = cfg.half_open;
  const engine::HalfOpenConfig& ho_old = current.engine.half_open;
  keep(ho_new.service_capacity != ho_old.service_capacity ||
           ho_new.source_capacity != ho_old.source_capacity,
       "accounting capacities");
  keep(ho_new.source_prefix_v4 != ho_old.source_prefix_v4 ||
           ho_new.source_prefix_v6 != ho_old.source_prefix_v6,
       "source prefix lengths");
  const auto& ck_new = cfg.protection.cookies;
  const auto& ck_old = current.engine.protection.cookies;
  const auto sameMss = [](const engine::MssTable& a, const engine::MssTable& b) {
    return a.size == b.size && a.values == b.values;
  };
  keep(ck_new.window != ck_old.window || ck_new.max_age_windows != ck_old.max_age_windows ||
           !sameMss(ck_new.v4, ck_old.v4) || !sameMss(ck_new.v6, ck_old.v6),
       "cookie window and MSS tables");
  keep(cfg.protection.proxy.early_segment_buffers !=
           current.engine.protection.proxy.early_segment_buffers,
       "proxy early-segment buffers");
  // The rules follow the services and their anti-spoofing settings: re-installed (one
  // transaction) only if they differ.
  RuleOptions next_ropts = ropts;
  next_ropts.anti_spoofing = next.anti_spoofing;
  next_ropts.sides = next.sides;
  bool rules_changed = false;
  if (renderRules(cfg.protection.services, next_ropts) !=
      renderRules(current.engine.protection.services, ropts)) {
    // The counters start again with the new rules: take the last of the old ones first.
    const std::lock_guard<std::mutex> lock(spoofed.mutex);
    if (auto reading = readQueueRules(ropts, rules->usesXt())) {
      spoofed.totals.update(reading->spoofed);
    }
    auto fresh = NftRules::install(cfg.protection.services, next_ropts);
    if (!fresh) {
      return Unexpected{Error{"rules: " + fresh.error().message}};
    }
    spoofed.totals.restarted();
    rules->disown();  // replaced in place by the new install
    rules.emplace(std::move(*fresh));
    ropts = next_ropts;
    current.anti_spoofing = next.anti_spoofing;
    current.sides = next.sides;
    rules_changed = true;
    logSides(cfg.protection.services, ropts);
  }
  {
    const std::lock_guard<std::mutex> lock(reload.mutex);
    reload.config = std::make_shared<const engine::EngineConfig>(cfg);
    reload.generation.fetch_add(1, std::memory_order_release);
  }
  const std::uint64_t gen = reload.generation.load();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (auto& w : workers) {
    while (w->applied_generation.load(std::memory_order_acquire) != gen) {
      if (std::chrono::steady_clock::now() > deadline) {
        return Unexpected{Error{"queue " + std::to_string(w->queue) + " did not take it"}};
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    const std::lock_guard<std::mutex> lock(w->mutex);
    if (!w->reload_error.empty()) {
      return Unexpected{Error{w->reload_error}};
    }
  }
  // What the engines kept stays the running value, so a later reload still names it.
  current.engine = engine::Engine::keptOnReload(cfg, current.engine);
  current.stats_interval = next.stats_interval;
  if (next.log.has_value()) {
    logger().configure(*next.log);
  }
  std::ostringstream os;
  os << cfg.protection.services.size() << " service(s)"
     << (rules_changed ? ", rules re-installed" : ", rules unchanged");
  if (!kept.empty()) {
    os << "; needs a restart, kept as running:";
    for (const auto& k : kept) {
      os << " " << k << (&k == &kept.back() ? "" : ",");
    }
  }
  return os.str();
}

}  // namespace

int runDaemon(const RunOptions& in) {
  RunOptions opts = in;
  if (opts.queues == 0) {
    const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
    opts.queues = static_cast<std::uint16_t>(std::clamp<long>(cpus, 1, engine::kMaxQueues));
  }
  RuleOptions ropts{opts.nft_table, opts.first_queue, opts.queues, opts.rule_mode};
  ropts.bypass = opts.bypass;
  ropts.anti_spoofing = opts.anti_spoofing;
  ropts.sides = opts.sides;
  opts.engine.bypass_established = opts.bypass;
  // Two set elements per connection, for every queue's table; an element is renewed by one
  // queued segment after this long, so it never outlives the tracker's established timeout.
  ropts.bypass_capacity = static_cast<std::uint32_t>(std::min<std::uint64_t>(
      std::uint64_t{2} * opts.engine.table_capacity * opts.queues, std::uint64_t{1} << 24));
  ropts.bypass_timeout_s = static_cast<std::uint32_t>(std::clamp<long long>(
      std::chrono::duration_cast<std::chrono::seconds>(opts.engine.timeouts.established).count(), 1,
      3600));
  const std::string ruleset = renderRules(opts.engine.protection.services, ropts);
  if (opts.print_rules) {
    std::fputs(ruleset.c_str(), stdout);
    return 0;
  }
  if (opts.log.has_value()) {
    logger().configure(*opts.log);
  }
  if (opts.engine.protection.services.empty()) {
    logLine(LogLevel::kError,
            "no service to protect (--protect or services: in the configuration)");
    return 2;
  }
  if (opts.engine.protection.services.size() > kMaxServices) {
    logLine(LogLevel::kError, "more than " + std::to_string(kMaxServices) + " services");
    return 2;
  }
  auto key = loadOrCreateCookieKey(opts.key_file);
  if (!key) {
    logLine(LogLevel::kError, key.error().message);
    return 1;
  }
  if (key->created) {
    logLine(LogLevel::kNotice, "created a new SYN-cookie key in " + opts.key_file);
  }
  engine::Secrets secrets;
  secrets.master_key = key->key;
  // A guessable seed would let a flood aim spoofed tuples at one hash bucket: no fallback.
  std::array<std::uint8_t, sizeof secrets.hash_seed> seed{};
  if (::getentropy(seed.data(), seed.size()) != 0) {
    logLine(LogLevel::kError,
            std::string("cannot draw the connection table's hash seed: getentropy: ") +
                std::strerror(errno));
    return 1;
  }
  std::memcpy(&secrets.hash_seed, seed.data(), sizeof secrets.hash_seed);

  // Signals are handled by the main thread only: block them before any thread starts.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  SystemClock clock;
  ReloadSlot reload;
  SharedLoad shared(opts.queues, kMaxServices);
  std::vector<std::unique_ptr<Worker>> workers;
  for (std::uint16_t i = 0; i < opts.queues; ++i) {
    auto w = std::make_unique<Worker>();
    w->queue = static_cast<std::uint16_t>(opts.first_queue + i);
    w->index = i;
    NfQueue::Options qo;
    qo.queue = w->queue;
    auto q = NfQueue::open(qo);
    if (!q) {
      logLine(LogLevel::kError, q.error().message);
      return 1;
    }
    w->q = std::move(*q);
    // Its SYN queue, the same offset in the range after the regular queues (see
    // renderRules); bound with fail-open, set from the engine once it exists (below).
    w->syn_queue = static_cast<std::uint16_t>(opts.first_queue + opts.queues + i);
    qo.queue = w->syn_queue;
    auto sq = NfQueue::open(qo);
    if (!sq) {
      logLine(LogLevel::kError, sq.error().message);
      return 1;
    }
    w->syn_q = std::move(*sq);
    auto s = RawSender::open(kMarkInjected);
    if (!s) {
      logLine(LogLevel::kError, s.error().message);
      return 1;
    }
    w->sender = std::move(*s);
    w->logger = std::make_unique<ModeLogger>(w->queue);
    auto e = engine::Engine::create(opts.engine, secrets, clock, *w->sender, w->logger.get());
    if (!e) {
      logLine(LogLevel::kError, e.error().message);
      return 2;
    }
    w->eng.emplace(std::move(*e));
    w->logger->setEngine(&*w->eng);
    // Before the rules go in: a service in `mode: always` is in cookie mode from the start, and
    // its SYNs must not fail open while the workers are still starting.
    w->syn_q->setFailOpen(!synQueueMustDrop(*w->eng));
    w->others = std::make_unique<OthersLoad>(shared, i);
    w->eng->setLoadSource(w->others.get());
    workers.push_back(std::move(w));
  }
  std::string rules_note;
  auto installed = NftRules::install(opts.engine.protection.services, ropts, &rules_note);
  if (!installed) {
    logLine(LogLevel::kError, installed.error().message);
    return 1;
  }
  std::optional<NftRules> rules(std::move(*installed));
  if (!rules_note.empty()) {
    logLine(LogLevel::kWarning, rules_note);
  }
  logSides(opts.engine.protection.services, ropts);
  if (auto r = dropPrivileges(opts.user); !r) {
    logLine(LogLevel::kError, r.error().message);
    return 1;
  }
  for (auto& w : workers) {
    Worker* wp = w.get();
    w->thread =
        std::thread([wp, &shared, &reload, &clock] { workerLoop(*wp, shared, reload, clock); });
  }
  ReloadCounters reloads;
  // Packets that passed without a verdict (fail-open), inferred every half second from the
  // rule counters, the queues' backlog and the verdicts, read in that order.
  UnprotectedEstimator estimator;
  std::atomic<std::uint64_t> rule_hits{0};
  std::atomic<std::uint64_t> unprotected{0};
  // The anti-spoofing drops per service, read with the queue rules' counters.
  RuleCounterTotals spoofed;
  std::mutex spoofed_mutex;  // the exporter's scrapes read it
  auto last_estimate = std::chrono::steady_clock::now();
  std::uint64_t unprotected_logged = 0;
  // Another tool can remove our rules (`nft flush ruleset` by a firewall reload, `iptables -t
  // raw -F`): traffic then passes unprotected. Two readings in a row (0.5 s apart) with fewer
  // queue rules than the first reading after an install (or without our table) put them back;
  // a failed attempt is retried every 5 s.
  int rules_missing = 0;
  std::size_t rules_expected = 0;  // 0: take the next reading as the baseline
  auto next_restore = std::chrono::steady_clock::now();
  const auto restoreRules = [&](const std::string& why) {
    const auto now = std::chrono::steady_clock::now();
    if (++rules_missing < 2 || now < next_restore) {
      return;
    }
    auto fresh = NftRules::install(opts.engine.protection.services, ropts);
    if (!fresh) {
      next_restore = now + std::chrono::seconds(5);
      logLine(LogLevel::kError, "the queue rules are gone (" + why +
                                    ") and re-installing them failed: " + fresh.error().message +
                                    "; retrying in 5 s");
      return;
    }
    rules->disown();  // whatever is left of them was replaced in place
    rules.emplace(std::move(*fresh));
    {
      const std::lock_guard<std::mutex> lock(spoofed_mutex);
      spoofed.restarted();
    }
    rules_missing = 0;
    rules_expected = 0;
    reloads.rules_restored.fetch_add(1);
    logLine(LogLevel::kWarning, "the queue rules were removed from outside (" + why +
                                    "): re-installed; meanwhile the traffic passed unprotected");
  };
  const auto estimateUnprotected = [&] {
    auto reading = readQueueRules(ropts, rules->usesXt());
    if (reading && rules_expected == 0) {
      rules_expected = reading->rules;
    }
    if (!reading || reading->rules == 0 || reading->rules < rules_expected) {
      restoreRules(!reading ? reading.error().message
                            : std::to_string(reading->rules) + " of " +
                                  std::to_string(rules_expected) + " queue rules left");
      return;
    }
    rules_missing = 0;
    {
      const std::lock_guard<std::mutex> lock(spoofed_mutex);
      spoofed.update(reading->spoofed);
    }
    // Waiting in our queues, and dropped by the kernel (a full SYN queue without fail-open;
    // a regular queue never drops): neither passed unprotected.
    std::uint64_t waiting = 0;
    std::uint64_t dropped = 0;
    for (const KernelQueueStats& k : readKernelQueueStats()) {
      for (auto& w : workers) {
        if (k.queue == w->queue || k.queue == w->syn_queue) {
          waiting += k.waiting;
          dropped += k.queue_dropped + k.user_dropped;
        }
      }
    }
    std::uint64_t verdicts = 0;
    for (auto& w : workers) {
      verdicts += w->verdicts.load(std::memory_order_acquire);
    }
    unprotected.store(estimator.update(reading->hits, waiting, verdicts, dropped));
    rule_hits.store(estimator.ruleHits());
    if (unprotected.load() > unprotected_logged) {
      logLine(LogLevel::kWarning,
              std::to_string(unprotected.load() - unprotected_logged) +
                  " packets passed without a verdict (the queues overflowed: fail-open)");
      unprotected_logged = unprotected.load();
    }
  };
  std::unique_ptr<MetricsExporter> metrics;
  if (!opts.metrics_listen.empty()) {
    MetricsInfo info{opts.version, static_cast<double>(::time(nullptr))};
    auto m = MetricsExporter::start(
        opts.metrics_listen, info,
        [&workers] {
          std::vector<WorkerSnapshot> v;
          v.reserve(workers.size());
          for (auto& w : workers) {
            const std::lock_guard<std::mutex> lock(w->mutex);
            v.push_back(w->snap);
          }
          return v;
        },
        reloads,
        LiveQueueFigures{
            [&rule_hits, &unprotected] {
              return std::pair<std::uint64_t, std::uint64_t>{rule_hits.load(), unprotected.load()};
            },
            [&spoofed, &spoofed_mutex] {
              const std::lock_guard<std::mutex> lock(spoofed_mutex);
              return spoofed.totals();
            }});
    if (!m) {
      // Started after the workers (capabilities are per thread: every thread is created after
      // the drop), so stop them cleanly before leaving.
      logLine(LogLevel::kError, m.error().message);
      (void)rules->remove();
      g_stop.store(true);
      for (auto& w : workers) {
        w->thread.join();
      }
      return 1;
    }
    metrics = std::move(*m);
    logLine(LogLevel::kInfo, "metrics on http://" + opts.metrics_listen + "/metrics");
  }
  std::ostringstream started;
  started << "protecting " << opts.engine.protection.services.size() << " service(s) on "
          << opts.queues << " queue(s) from " << opts.first_queue << ", table inet "
          << opts.nft_table;
  logLine(LogLevel::kNotice, started.str());
  sd_notify(0, "READY=1");

  std::uint64_t watchdog_us = 0;
  const bool watchdog = sd_watchdog_enabled(0, &watchdog_us) > 0;
  auto last_stats = std::chrono::steady_clock::now();
  auto last_status = last_stats;
  int exit_code = 0;
  for (;;) {
    timespec wait{0, 100'000'000};
    siginfo_t info{};
    const int sig = sigtimedwait(&sigs, &info, &wait);
    if (sig == SIGTERM || sig == SIGINT) {
      logLine(LogLevel::kNotice,
              std::string("stopping on ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT"));
      break;
    }
    if (sig == SIGHUP) {
      auto r = reloadConfig(opts, ropts, {spoofed, spoofed_mutex}, rules, workers, reload);
      rules_expected = 0;  // the rules may have changed: the next reading is the baseline
      (r ? reloads.success : reloads.failure).fetch_add(1);
      reloads.last_ok.store(r.has_value());
      logLine(r ? LogLevel::kNotice : LogLevel::kError,
              r ? "configuration reloaded: " + *r
                : "configuration reload failed, nothing changed: " + r.error().message);
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - last_estimate >= std::chrono::milliseconds(500)) {
      last_estimate = now;
      estimateUnprotected();
    }
    if (watchdog) {
      // Ping only while every packet loop is alive (each loops at least every 50 ms).
      bool alive = true;
      const std::int64_t mono = clock.now().since_epoch.count();
      for (auto& w : workers) {
        alive = alive && mono - w->heartbeat_ns.load(std::memory_order_relaxed) <
                             static_cast<std::int64_t>(watchdog_us) * 500;
      }
      if (alive) {
        sd_notify(0, "WATCHDOG=1");
      }
    }
    if (now - last_status >= std::chrono::seconds(1)) {
      last_status = now;
      sd_notify(0, ("STATUS=" + statusLine(workers)).c_str());
    }
    if (opts.stats_interval > 0 &&
        now - last_stats >= std::chrono::duration<double>(opts.stats_interval)) {
      last_stats = now;
      logLine(LogLevel::kInfo, "stats: " + statusLine(workers));
    }
  }
  sd_notify(0, "STOPPING=1");
  // Stop taking packets first: with the rules gone nothing new is queued; the workers then
  // drain what is already queued and stop.
  if (auto r = rules->remove(); !r) {
    logLine(LogLevel::kError, "removing the rules: " + r.error().message);
    exit_code = 1;
  }
  g_stop.store(true);
  for (auto& w : workers) {
    w->thread.join();
  }
  for (auto& w : workers) {
    takeSnapshot(*w);  // the threads have stopped: the final figures
  }
  logLine(LogLevel::kNotice, "stopped: " + statusLine(workers));
  // civetweb's shutdown waits up to 2 s for its listener's poll to time out; the process is
  // exiting anyway, so the exporter is left to exit with it (its snapshot source is gone:
  // nothing may scrape past this point, and nothing will — main returns next).
  if (metrics) {
    metrics->detachForExit();
    (void)metrics.release();  // NOLINT(bugprone-unused-return-value): deliberately not freed
  }
  return exit_code;
}

}  // namespace synguard::daemon
