// synguard run: the inline daemon. One worker thread per NFQUEUE queue, each with its own
// engine, queue socket and raw sockets; the main thread handles signals, sd_notify and the
// status line. See docs/DAEMON.md.
#include "daemon/inline/run.h"

#include <pthread.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

#include "daemon/inline/cookie_key_file.h"
#include "daemon/inline/log.h"
#include "daemon/inline/metrics.h"
#include "daemon/inline/privileges.h"
#include "daemon/inline/reload.h"
#include "daemon/inline/route_lookup.h"
#include "daemon/inline/rule_watcher.h"
#include "daemon/inline/system_clock.h"
#include "daemon/inline/worker.h"
#include "daemon/inline/xdp/xdp_path.h"
#include "engine/limits.h"

namespace synguard::daemon {

namespace {

using engine::kMaxServices;

/// Logs the side each service's own segments may come from (the anti-spoofing check).
void logSides(const std::vector<engine::ServiceConfig>& services, const RuleOptions& ropts) {
  for (const SideLine& l : describeSides(services, ropts)) {
    logLine(l.level, l.text);
  }
}

/// The rule options of a start: the queues, the table and the bypass set sized for them.
RuleOptions ruleOptions(const RunOptions& opts) {
  RuleOptions ropts{opts.nft_table, opts.first_queue, opts.queues, opts.rule_mode};
  ropts.bypass = opts.bypass;
  ropts.anti_spoofing = opts.anti_spoofing;
  ropts.sides = opts.sides;
  // Two set elements per connection, for every queue's table; an element is renewed by one
  // queued segment after this long, so it never outlives the tracker's established timeout.
  ropts.bypass_capacity = static_cast<std::uint32_t>(std::min<std::uint64_t>(
      std::uint64_t{2} * opts.engine.table_capacity * opts.queues, std::uint64_t{1} << 24));
  ropts.bypass_timeout_s = static_cast<std::uint32_t>(std::clamp<long long>(
      std::chrono::duration_cast<std::chrono::seconds>(opts.engine.timeouts.established).count(), 1,
      3600));
  ropts.handoff = opts.engine.protection.proxy.handoff;
  ropts.handoff_capacity = ropts.bypass_capacity;
  ropts.handoff_timeout_s = ropts.bypass_timeout_s;
  return ropts;
}

/// A process exit code, or nothing to go on.
using Step = std::optional<int>;

/// The daemon from start to stop: the steps of runDaemon and the state they share.
class Daemon {
 public:
  explicit Daemon(RunOptions opts) : opts_(std::move(opts)) {}
  int run();

 private:
  Step checkServices() const;
  Step loadSecrets();
  Step openWorkers();
  Step openWorker(std::uint16_t i);
  Step startXdp();
  void refreshXdp();
  Step installRules();
  Step startHandoff();
  void startWorkers();
  Step startMetrics();
  void announce() const;
  int supervise();
  void reload();
  Result<std::string> reloadConfig();
  void pingWatchdog();
  int stop();
  void joinWorkers();

  RunOptions opts_;
  RuleOptions ropts_;
  engine::Secrets secrets_;
  sigset_t sigs_{};
  SystemClock clock_;
  ReloadSlot reload_slot_;
  std::unique_ptr<SharedLoad> shared_;
  std::atomic<bool> stop_{false};
  // proxy.handoff (null: off). Before the workers: their observers point at it.
  std::unique_ptr<ConntrackHandoff> handoff_;
  std::vector<std::unique_ptr<Worker>> workers_;
  ReloadCounters reloads_;
  std::unique_ptr<RuleWatcher> rules_;
  std::unique_ptr<MetricsExporter> metrics_;
  std::uint64_t watchdog_us_ = 0;
  // The XDP fast path (null: off at start). Declared after the workers: destroyed (detached)
  // before them, and the workers have stopped by then (stop() joins them).
  std::unique_ptr<xdp::XdpPath> xdp_;
  std::atomic<const xdp::XdpProgram*> xdp_program_{nullptr};  ///< for worker 0's feedback
};

int Daemon::run() {
  if (opts_.queues == 0) {
    const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
    opts_.queues = static_cast<std::uint16_t>(std::clamp<long>(cpus, 1, engine::kMaxQueues));
  }
  ropts_ = ruleOptions(opts_);
  opts_.engine.bypass_established = opts_.bypass;
  if (opts_.print_rules) {
    std::fputs(renderRules(opts_.engine.protection.services, ropts_).c_str(), stdout);
    return 0;
  }
  if (opts_.log.has_value()) {
    logger().configure(*opts_.log);
  }
  if (const Step code = checkServices()) {
    return *code;
  }
  if (const Step code = loadSecrets()) {
    return *code;
  }
  // Signals are handled by the main thread only: block them before any thread starts.
  sigemptyset(&sigs_);
  sigaddset(&sigs_, SIGTERM);
  sigaddset(&sigs_, SIGINT);
  sigaddset(&sigs_, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &sigs_, nullptr);
  if (const Step code = openWorkers()) {
    return *code;
  }
  if (const Step code = startXdp()) {
    return *code;
  }
  if (const Step code = installRules()) {
    return *code;
  }
  if (const Step code = startHandoff()) {
    (void)rules_->remove();
    return *code;
  }
  startWorkers();
  refreshXdp();  // ready: the services' rows follow the engines' snapshots from now on
  if (const Step code = startMetrics()) {
    return *code;
  }
  announce();
  return supervise();
}

Step Daemon::checkServices() const {
  if (opts_.engine.protection.services.empty()) {
    logLine(LogLevel::kError,
            "no service to protect (--protect or services: in the configuration)");
    return 2;
  }
  if (opts_.engine.protection.services.size() > kMaxServices) {
    logLine(LogLevel::kError, "more than " + std::to_string(kMaxServices) + " services");
    return 2;
  }
  return std::nullopt;
}

Step Daemon::loadSecrets() {
  auto key = loadOrCreateCookieKey(opts_.key_file);
  if (!key) {
    logLine(LogLevel::kError, key.error().message);
    return 1;
  }
  if (key->created) {
    logLine(LogLevel::kNotice, "created a new SYN-cookie key in " + opts_.key_file);
  }
  secrets_.master_key = key->key;
  // A guessable seed would let a flood aim spoofed tuples at one hash bucket: no fallback.
  std::array<std::uint8_t, sizeof secrets_.hash_seed> seed{};
  if (::getentropy(seed.data(), seed.size()) != 0) {
    logLine(LogLevel::kError,
            std::string("cannot draw the connection table's hash seed: getentropy: ") +
                std::strerror(errno));
    return 1;
  }
  std::memcpy(&secrets_.hash_seed, seed.data(), sizeof secrets_.hash_seed);
  return std::nullopt;
}

Step Daemon::openWorkers() {
  shared_ = std::make_unique<SharedLoad>(opts_.queues, kMaxServices);
  for (std::uint16_t i = 0; i < opts_.queues; ++i) {
    if (const Step code = openWorker(i)) {
      return code;
    }
  }
  return std::nullopt;
}

Step Daemon::openWorker(std::uint16_t i) {
  auto w = std::make_unique<Worker>();
  w->queue = static_cast<std::uint16_t>(opts_.first_queue + i);
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
  w->syn_queue = static_cast<std::uint16_t>(opts_.first_queue + opts_.queues + i);
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
  auto e = engine::Engine::create(opts_.engine, secrets_, clock_, *w->sender, w->logger.get());
  if (!e) {
    logLine(LogLevel::kError, e.error().message);
    return 2;
  }
  w->eng.emplace(std::move(*e));
  w->logger->setEngine(&*w->eng);
  // Before the rules go in: a service in `mode: always` is in cookie mode from the start, and
  // its SYNs must not fail open while the workers are still starting.
  w->syn_q->setFailOpen(!synQueueMustDrop(*w->eng));
  w->others = std::make_unique<OthersLoad>(*shared_, i);
  w->eng->setLoadSource(w->others.get());
  workers_.push_back(std::move(w));
  return std::nullopt;
}

/// Loads the XDP program and attaches it (not ready yet: it passes everything until the first
/// refresh) before the rules go in and before the capabilities are dropped (CAP_BPF).
Step Daemon::startXdp() {
  if (!opts_.xdp.enabled()) {
    return std::nullopt;
  }
  auto path = xdp::XdpPath::start(opts_.xdp, opts_.engine.protection);
  if (!path) {
    logLine(LogLevel::kError, path.error().message);
    return 1;
  }
  xdp_ = std::move(*path);
  xdp_program_.store(&xdp_->program(), std::memory_order_release);
  return std::nullopt;
}

/// The XDP program's state and service rows from the running configuration and the engines'
/// latest snapshots (each main-thread tick, ~100 ms: key rotations, mode changes).
void Daemon::refreshXdp() {
  if (!xdp_) {
    return;
  }
  xdp::RefreshInputs in;
  in.config = &opts_.engine;
  in.master_key = secrets_.master_key;
  in.check_source = xdp::checkSource(opts_.engine.protection, opts_.anti_spoofing, opts_.sides);
  xdp_->refresh(in, snapshots(workers_));
}

Step Daemon::installRules() {
  std::string rules_note;
  auto installed = NftRules::install(opts_.engine.protection.services, ropts_, &rules_note);
  if (!installed) {
    logLine(LogLevel::kError, installed.error().message);
    return 1;
  }
  rules_ = std::make_unique<RuleWatcher>(std::move(*installed), ropts_, reloads_);
  if (!rules_note.empty()) {
    logLine(LogLevel::kWarning, rules_note);
  }
  logSides(opts_.engine.protection.services, ropts_);
  if (auto r = dropPrivileges(opts_.user, xdp_ != nullptr); !r) {
    logLine(LogLevel::kError, r.error().message);
    return 1;
  }
  return std::nullopt;
}

/// proxy.handoff: after the rules (its sets) and the drop of privileges (it keeps
/// CAP_NET_ADMIN, which ctnetlink needs), before the workers can offer it anything.
Step Daemon::startHandoff() {
  if (!opts_.engine.protection.proxy.handoff) {
    return std::nullopt;
  }
  HandoffOptions ho;
  ho.nft_table = ropts_.nft_table;
  ho.workers = workers_.size();
  ho.timeout_s = static_cast<std::uint32_t>(std::clamp<long long>(
      std::chrono::duration_cast<std::chrono::seconds>(opts_.engine.timeouts.established).count(),
      1, 432000));
  auto h = ConntrackHandoff::start(ho);
  if (!h) {
    logLine(LogLevel::kError, h.error().message);
    return 1;
  }
  handoff_ = std::move(*h);
  for (auto& w : workers_) {
    w->logger->setHandoff(handoff_.get());
  }
  logLine(LogLevel::kInfo, "proxy.handoff: established proxied connections go to conntrack (mark " +
                               std::to_string(kCtMarkHandoff) + ")");
  return std::nullopt;
}

void Daemon::startWorkers() {
  for (auto& w : workers_) {
    Worker* wp = w.get();
    // Worker 0 feeds what XDP answered into its engine (one reader of the program's counters).
    const std::atomic<const xdp::XdpProgram*>* x = wp->index == 0 ? &xdp_program_ : nullptr;
    w->thread = std::thread([this, wp, x] {
      workerLoop(*wp, WorkerContext{*shared_, reload_slot_, clock_, stop_, x, handoff_.get()});
    });
  }
}

Step Daemon::startMetrics() {
  if (opts_.metrics_listen.empty()) {
    return std::nullopt;
  }
  MetricsInfo info{opts_.version, static_cast<double>(::time(nullptr))};
  LiveQueueFigures live = rules_->liveFigures();
  if (xdp_) {
    live.xdp = [this] { return xdp_->figures(); };
  }
  if (handoff_) {
    live.handoff = [this] {
      const HandoffCounters& c = handoff_->counters();
      return HandoffFigures{c.created.load(),     c.errors.load() + c.dropped.load(),
                            c.learned.load(),     c.checked.load() - c.check_ended.load(),
                            c.check_ended.load(), c.checks_skipped.load()};
    };
  }
  auto m = MetricsExporter::start(
      opts_.metrics_listen, info, [this] { return snapshots(workers_); }, reloads_,
      std::move(live));
  if (!m) {
    // Started after the workers (capabilities are per thread: every thread is created after
    // the drop), so stop them cleanly before leaving.
    logLine(LogLevel::kError, m.error().message);
    (void)rules_->remove();
    joinWorkers();
    return 1;
  }
  metrics_ = std::move(*m);
  logLine(LogLevel::kInfo, "metrics on http://" + opts_.metrics_listen + "/metrics");
  return std::nullopt;
}

void Daemon::announce() const {
  std::ostringstream started;
  started << "protecting " << opts_.engine.protection.services.size() << " service(s) on "
          << opts_.queues << " queue(s) from " << opts_.first_queue << ", table inet "
          << opts_.nft_table;
  logLine(LogLevel::kNotice, started.str());
  sd_notify(0, "READY=1");
}

int Daemon::supervise() {
  const bool watchdog = sd_watchdog_enabled(0, &watchdog_us_) > 0;
  auto last_stats = std::chrono::steady_clock::now();
  auto last_status = last_stats;
  auto last_estimate = last_stats;
  auto last_xdp_watch = last_stats;
  for (;;) {
    timespec wait{0, 100'000'000};
    siginfo_t info{};
    const int sig = sigtimedwait(&sigs_, &info, &wait);
    if (sig == SIGTERM || sig == SIGINT) {
      logLine(LogLevel::kNotice,
              std::string("stopping on ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT"));
      break;
    }
    if (sig == SIGHUP) {
      reload();
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - last_estimate >= std::chrono::milliseconds(500)) {
      last_estimate = now;
      rules_->check(opts_.engine.protection.services, workers_);
    }
    refreshXdp();
    if (xdp_ && now - last_xdp_watch >= std::chrono::seconds(1)) {
      last_xdp_watch = now;
      xdp_->watch();  // interfaces that came back, and the per-interface figures
    }
    if (watchdog) {
      pingWatchdog();
    }
    if (now - last_status >= std::chrono::seconds(1)) {
      last_status = now;
      sd_notify(0, ("STATUS=" + statusLine(workers_)).c_str());
    }
    if (opts_.stats_interval > 0 &&
        now - last_stats >= std::chrono::duration<double>(opts_.stats_interval)) {
      last_stats = now;
      logLine(LogLevel::kInfo, "stats: " + statusLine(workers_));
    }
  }
  return stop();
}

void Daemon::reload() {
  auto r = reloadConfig();
  rules_->rebaseline();  // the rules may have changed: the next reading is the baseline
  (r ? reloads_.success : reloads_.failure).fetch_add(1);
  reloads_.last_ok.store(r.has_value());
  logLine(r ? LogLevel::kNotice : LogLevel::kError,
          r ? "configuration reloaded: " + *r
            : "configuration reload failed, nothing changed: " + r.error().message);
}

/// SIGHUP: reads the configuration again, checks it whole, re-installs the rules if the
/// services' addresses, ports or anti-spoofing settings changed, and has every worker apply it
/// between two batches. Connections, proxied connections and counters stay. Returns what
/// changed, or why nothing did.
Result<std::string> Daemon::reloadConfig() {
  auto loaded = loadReloaded(opts_);
  if (!loaded) {
    return Unexpected{loaded.error()};
  }
  RunOptions next = std::move(*loaded);
  std::vector<std::string> kept = keepRunning(next, opts_);
  if (next.xdp.enabled() && !xdp_) {
    // Off at start: the program was never loaded and CAP_BPF was given up with the user drop.
    kept.emplace_back("xdp (off at start)");
    next.xdp = opts_.xdp;
  }
  const engine::EngineConfig& cfg = next.engine;
  // The rules follow the services and their anti-spoofing settings: re-installed (one
  // transaction) only if they differ.
  RuleOptions next_ropts = ropts_;
  next_ropts.anti_spoofing = next.anti_spoofing;
  next_ropts.sides = next.sides;
  const bool rules_changed = renderRules(cfg.protection.services, next_ropts) !=
                             renderRules(opts_.engine.protection.services, ropts_);
  if (rules_changed) {
    if (auto r = rules_->replace(cfg.protection.services, next_ropts); !r) {
      return Unexpected{r.error()};
    }
    ropts_ = next_ropts;
    opts_.anti_spoofing = next.anti_spoofing;
    opts_.sides = next.sides;
    logSides(cfg.protection.services, ropts_);
  }
  if (auto r = publishToWorkers(cfg, reload_slot_, workers_); !r) {
    return Unexpected{r.error()};
  }
  std::string xdp_note;
  if (xdp_) {
    // The service map follows the services, allow and deny lists (rewritten as a difference);
    // the links follow the interface list and mode.
    auto r = xdp_->reconfigure(next.xdp, cfg.protection, true);
    if (!r) {
      return Unexpected{r.error()};
    }
    xdp_note = *r;
    opts_.xdp = next.xdp;
  }
  // What the engines kept stays the running value, so a later reload still names it.
  opts_.engine = cfg;
  opts_.stats_interval = next.stats_interval;
  if (next.log.has_value()) {
    logger().configure(*next.log);
  }
  std::ostringstream os;
  os << cfg.protection.services.size() << " service(s)"
     << (rules_changed ? ", rules re-installed" : ", rules unchanged")
     << (xdp_note.empty() ? "" : ", " + xdp_note);
  if (!kept.empty()) {
    os << "; needs a restart, kept as running:";
    for (const auto& k : kept) {
      os << " " << k << (&k == &kept.back() ? "" : ",");
    }
  }
  return os.str();
}

/// Pings only while every packet loop is alive (each loops at least every 50 ms).
void Daemon::pingWatchdog() {
  bool alive = true;
  const std::int64_t mono = clock_.now().since_epoch.count();
  for (const auto& w : workers_) {
    alive = alive && mono - w->heartbeat_ns.load(std::memory_order_relaxed) <
                         static_cast<std::int64_t>(watchdog_us_) * 500;
  }
  if (alive) {
    sd_notify(0, "WATCHDOG=1");
  }
}

void Daemon::joinWorkers() {
  stop_.store(true);
  for (auto& w : workers_) {
    w->thread.join();
  }
}

int Daemon::stop() {
  int exit_code = 0;
  sd_notify(0, "STOPPING=1");
  // XDP first: it passes everything, then its links go, so every SYN reaches the queue rules
  // while they are still there.
  if (xdp_) {
    xdp_->stop();
  }
  // Stop taking packets first: with the rules gone nothing new is queued; the workers then
  // drain what is already queued and stop.
  if (auto r = rules_->remove(); !r) {
    logLine(LogLevel::kError, "removing the rules: " + r.error().message);
    exit_code = 1;
  }
  joinWorkers();
  for (auto& w : workers_) {
    takeSnapshot(*w);  // the threads have stopped: the final figures
  }
  logLine(LogLevel::kNotice, "stopped: " + statusLine(workers_));
  // civetweb's shutdown waits up to 2 s for its listener's poll to time out; the process is
  // exiting anyway, so the exporter is left to exit with it (its snapshot source is gone:
  // nothing may scrape past this point, and nothing will — main returns next).
  if (metrics_) {
    metrics_->detachForExit();
    (void)metrics_.release();  // NOLINT(bugprone-unused-return-value): deliberately not freed
  }
  return exit_code;
}

}  // namespace

int runDaemon(const RunOptions& opts) { return Daemon(opts).run(); }

}  // namespace synguard::daemon
