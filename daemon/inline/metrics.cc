#include "daemon/inline/metrics.h"

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <exception>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <sstream>
#include <utility>

#include "engine/protect/syn_cookie.h"
#include "engine/track/connection.h"
#include "engine/track/tcp_state.h"
#include "engine/verdict.h"

namespace synguard::daemon {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

std::string lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return r;
}

class Families {
 public:
  MetricFamily& family(const std::string& name, const std::string& help, MetricType type) {
    out_.push_back(MetricFamily{name, help, type, {}});
    return out_.back();
  }
  static void add(MetricFamily& f, double v, std::vector<ClientMetric::Label> labels = {}) {
    ClientMetric m;
    m.label = std::move(labels);
    if (f.type == MetricType::Counter) {
      m.counter.value = v;
    } else {
      m.gauge.value = v;
    }
    f.metric.push_back(std::move(m));
  }
  void one(const std::string& name, const std::string& help, MetricType type, double v) {
    add(family(name, help, type), v);
  }
  std::vector<MetricFamily> take() {
    return std::vector<MetricFamily>(std::make_move_iterator(out_.begin()),
                                     std::make_move_iterator(out_.end()));
  }

 private:
  std::deque<MetricFamily> out_;  ///< references handed out stay valid as it grows
};

class SnapshotCollectable : public prometheus::Collectable {
 public:
  SnapshotCollectable(MetricsInfo info, MetricsExporter::SnapshotFn fn,
                      const ReloadCounters& reloads, LiveQueueFigures live)
      : info_(std::move(info)), fn_(std::move(fn)), reloads_(&reloads), live_(std::move(live)) {}
  std::vector<MetricFamily> Collect() const override {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (detached_) {
      return {};
    }
    std::pair<std::uint64_t, std::uint64_t> hu{0, 0};
    if (live_.hits_and_unprotected) {
      hu = live_.hits_and_unprotected();
    }
    RuleCounterTotals::Totals spoofed;
    if (live_.spoofed) {
      spoofed = live_.spoofed();
    }
    std::vector<xdp::InterfaceFigures> x;
    if (live_.xdp) {
      x = live_.xdp();
    }
    const HandoffFigures h = live_.handoff ? live_.handoff() : HandoffFigures{};
    return collectMetrics(info_, fn_(), readKernelQueueStats(), *reloads_, hu.first, hu.second,
                          spoofed, x, h);
  }

 private:
  MetricsInfo info_;
  MetricsExporter::SnapshotFn fn_;
  const ReloadCounters* reloads_;
  LiveQueueFigures live_;
  mutable std::mutex mutex_;  ///< a scrape in progress holds it; detach() waits for it
  bool detached_ = false;

 public:
  /// From now on scrapes answer nothing (the sources are about to go away).
  void detach() {
    const std::lock_guard<std::mutex> lock(mutex_);
    detached_ = true;
  }
};

}  // namespace

std::vector<KernelQueueStats> readKernelQueueStats(const std::string& path) {
  std::vector<KernelQueueStats> out;
  std::ifstream in(path);
  // queue_number peer_portid queue_total copy_mode copy_range queue_dropped user_dropped
  // id_sequence 1   (net/netfilter/nfnetlink_queue.c, seq_show)
  for (std::string line; std::getline(in, line);) {
    std::istringstream ls(line);
    unsigned long long q = 0;
    unsigned long long portid = 0;
    unsigned long long total = 0;
    unsigned long long mode = 0;
    unsigned long long range = 0;
    unsigned long long qdrop = 0;
    unsigned long long udrop = 0;
    if (ls >> q >> portid >> total >> mode >> range >> qdrop >> udrop && q <= 65535) {
      out.push_back({static_cast<std::uint16_t>(q), total, qdrop, udrop});
    }
  }
  return out;
}

std::uint64_t UnprotectedEstimator::update(std::uint64_t rule_hits, std::uint64_t waiting,
                                           std::uint64_t verdicts, std::uint64_t dropped) {
  if (rule_hits < last_hits_) {
    carry_ += last_hits_;  // the rules were re-installed: their counters started again
  }
  last_hits_ = rule_hits;
  const std::uint64_t accounted = waiting + verdicts + dropped;
  const std::uint64_t hits = carry_ + rule_hits;
  if (hits > accounted) {
    max_ = std::max(max_, hits - accounted);
  }
  return max_;
}

void RuleCounterTotals::update(const std::map<std::string, std::uint64_t>& reading) {
  for (const auto& [name, value] : reading) {
    Counter& c = counters_[name];
    if (value < c.last) {
      c.carry += c.last;  // re-installed without restarted(): the counter started again
    }
    c.last = value;
  }
}

void RuleCounterTotals::restarted() {
  for (auto& [name, c] : counters_) {
    c.carry += c.last;
    c.last = 0;
  }
}

RuleCounterTotals::Totals RuleCounterTotals::totals() const {
  Totals t;
  t.reserve(counters_.size());
  for (const auto& [name, c] : counters_) {
    t.emplace_back(name, c.carry + c.last);
  }
  return t;
}

namespace {

constexpr auto kGauge = MetricType::Gauge;
constexpr auto kCounter = MetricType::Counter;

/// Per service: from each engine's ServiceRuntime (ServiceFigures), not from EngineStats.
void addServices(Families& f, const std::vector<ServiceFigures>& svc) {
  auto& sho = f.family("synguard_service_half_open_connections",
                       "Half-open connections to the service now", kGauge);
  auto& speak =
      f.family("synguard_service_half_open_peak_connections",
               "Highest half-open count seen for the service (summed over queues)", kGauge);
  auto& srate =
      f.family("synguard_service_syn_rate", "Smoothed SYNs per second to the service", kGauge);
  auto& ssyn = f.family("synguard_service_syns_received_total", "SYNs to the service", kCounter);
  auto& csent =
      f.family("synguard_cookies_sent_total", "SYN-ACKs with a SYN cookie sent", kCounter);
  auto& cval =
      f.family("synguard_cookies_validated_total", "ACKs whose SYN cookie was valid", kCounter);
  auto& smode = f.family("synguard_service_mode",
                         "1 for the service's current mode (normal or cookie)", kGauge);
  auto& strans =
      f.family("synguard_service_mode_transitions_total", "Service mode changes", kCounter);
  auto& swc = f.family("synguard_service_would_cookie_total",
                       "Monitor mode: SYNs to the service that would have been answered with a "
                       "cookie (they passed)",
                       kCounter);
  auto& swd = f.family("synguard_service_would_drop_total",
                       "Monitor mode: segments of the service that would have been dropped (they "
                       "passed)",
                       kCounter);
  auto& shc = f.family("synguard_service_handshakes_completed_total",
                       "Handshakes of the service that completed (tracked to ESTABLISHED, or a "
                       "valid cookie ACK)",
                       kCounter);
  for (const ServiceFigures& s : svc) {
    const std::vector<ClientMetric::Label> l = {{"service", s.name}};
    Families::add(shc, static_cast<double>(s.handshakes_completed), l);
    Families::add(sho, s.half_open, l);
    Families::add(speak, s.peak_half_open, l);
    Families::add(srate, s.syn_rate, l);
    Families::add(ssyn, static_cast<double>(s.syns), l);
    Families::add(csent, static_cast<double>(s.cookies_sent), l);
    Families::add(cval, static_cast<double>(s.cookies_validated), l);
    Families::add(strans, static_cast<double>(s.mode_changes), l);
    Families::add(swc, static_cast<double>(s.would_cookie), l);
    Families::add(swd, static_cast<double>(s.would_drop), l);
    for (const auto m : {engine::ServiceMode::kNormal, engine::ServiceMode::kCookie}) {
      Families::add(smode, s.mode == m ? 1 : 0,
                    {{"mode", std::string(engine::toString(m))}, {"service", s.name}});
    }
  }
}

/// Every engine counter its description exports (engine/stats.h, forEachCounter): a new
/// counter shows here without a line of its own.
void addEngineCounters(Families& f, const engine::EngineStats& t) {
  engine::forEachCounter(t, [&f](const engine::CounterInfo& c, std::span<const std::uint64_t> v) {
    if (c.metric.empty()) {
      return;
    }
    auto& fam =
        f.family(std::string(c.metric), std::string(c.help),
                 c.kind == engine::CounterKind::kGauge ? MetricType::Gauge : MetricType::Counter);
    if (c.index_name == nullptr) {
      Families::add(fam, static_cast<double>(v[0]));
      return;
    }
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (const std::string_view name = c.index_name(i); !name.empty()) {
        // Label values in lower case, as Prometheus has them (TcpState's names are upper case).
        Families::add(fam, static_cast<double>(v[i]), {{std::string(c.label), lower(name)}});
      }
    }
  });
}

/// Special: two arrays (accepted, dropped) in one family, and single reasons of them.
void addVerdicts(Families& f, const engine::EngineStats& t) {
  using engine::kVerdictReasonCount;
  using engine::VerdictReason;
  // Special: two arrays (accepted, dropped) in one family, told apart by `verdict`; only the
  // reasons that occurred (22 reasons x 2 would be mostly zeros).
  auto& verdicts = f.family("synguard_verdicts_total", "Verdicts by verdict and reason", kCounter);
  for (std::size_t i = 0; i < kVerdictReasonCount; ++i) {
    const std::string reason(engine::toString(static_cast<VerdictReason>(i)));
    if (t.accepted[i] != 0) {
      Families::add(verdicts, static_cast<double>(t.accepted[i]),
                    {{"reason", reason}, {"verdict", "accept"}});
    }
    if (t.dropped[i] != 0) {
      Families::add(verdicts, static_cast<double>(t.dropped[i]),
                    {{"reason", reason}, {"verdict", "drop"}});
    }
  }
  if (verdicts.metric.empty()) {  // keep the family visible before the first packet
    Families::add(verdicts, 0, {{"reason", "tracked"}, {"verdict", "accept"}});
  }
  auto& lim =
      f.family("synguard_source_limit_drops_total", "SYNs dropped by per-source limits", kCounter);
  Families::add(
      lim, static_cast<double>(t.dropped[static_cast<std::size_t>(VerdictReason::kSourceRate)]),
      {{"limit", "syn_rate"}});
  Families::add(
      lim, static_cast<double>(t.dropped[static_cast<std::size_t>(VerdictReason::kSourceHalfOpen)]),
      {{"limit", "half_open"}});
  f.one("synguard_proxy_source_limit_drops_total",
        "Valid cookie ACKs dropped: the source prefix holds proxy.max_per_source", kCounter,
        static_cast<double>(t.dropped[static_cast<std::size_t>(VerdictReason::kProxySourceLimit)]));
  f.one("synguard_server_side_drops_total",
        "Segments with no connection from a service in cookie mode, dropped", kCounter,
        static_cast<double>(t.dropped[static_cast<std::size_t>(VerdictReason::kServerSide)]));
}

/// Each worker's regular queue and its SYN queue, with the kernel's view of them. Returns
/// the SYNs the full SYN queues dropped (overload drop_syn).
std::uint64_t addQueues(Families& f, const std::vector<WorkerSnapshot>& workers,
                        const std::vector<KernelQueueStats>& kernel) {
  auto& qpk = f.family("synguard_queue_packets_total", "Packets received from the queue", kCounter);
  auto& qkd = f.family("synguard_queue_kernel_drops_total",
                       "Kernel queue_dropped: the queue was full and dropped them (a SYN queue "
                       "without fail-open; with fail-open they pass uncounted)",
                       kCounter);
  auto& qud = f.family(
      "synguard_queue_user_drops_total",
      "Kernel user_dropped: the netlink socket was full and dropped them (as above)", kCounter);
  auto& qen = f.family("synguard_queue_enobufs_total", "ENOBUFS on receive (survived)", kCounter);
  auto& qfo = f.family("synguard_queue_failed_open_total",
                       "Packets the kernel accepted without a verdict from us (id gaps)", kCounter);
  auto& qrq = f.family("synguard_queue_requeued_at_setup_total",
                       "Packets already waiting while the queue was being bound (a restart under "
                       "traffic), handed back to the kernel to be queued again whole (NF_REPEAT)",
                       kCounter);
  auto& sqd = f.family("synguard_syn_queue_drops_on_overflow",
                       "1 while the SYN queue drops on overflow (a drop_syn service is in cookie "
                       "mode), 0 while it fails open",
                       kGauge);
  std::uint64_t overload_drops = 0;
  for (const WorkerSnapshot& w : workers) {
    // Each worker's regular queue and its SYN queue (overload drop_syn).
    for (const bool syn : {false, true}) {
      const std::uint16_t queue = syn ? w.syn_queue : w.queue;
      const NfQueueStats& qs = syn ? w.syn_queue_stats : w.queue_stats;
      const std::vector<ClientMetric::Label> l = {{"queue", std::to_string(queue)}};
      Families::add(qpk, static_cast<double>(qs.packets), l);
      Families::add(qen, static_cast<double>(qs.enobufs), l);
      Families::add(qfo, static_cast<double>(qs.failed_open), l);
      Families::add(qrq, static_cast<double>(qs.requeued_at_setup), l);
      std::uint64_t kd = 0;
      std::uint64_t ud = 0;
      for (const KernelQueueStats& k : kernel) {
        if (k.queue == queue) {
          kd = k.queue_dropped;
          ud = k.user_dropped;
        }
      }
      Families::add(qkd, static_cast<double>(kd), l);
      Families::add(qud, static_cast<double>(ud), l);
      if (syn) {
        Families::add(sqd, w.syn_queue_drops ? 1 : 0, l);
        overload_drops += kd + ud;  // counted only without fail-open: each one dropped
      }
    }
  }
  return overload_drops;
}

void addProcessingHistogram(Families& f, const ProcessingHistogram& hist) {
  auto& h = f.family("synguard_packet_processing_seconds",
                     "Engine time per packet (batch time / batch size)", MetricType::Histogram);
  ClientMetric hm;
  hm.histogram.sample_count = hist.count;
  hm.histogram.sample_sum = hist.sum_seconds;
  std::uint64_t cum = 0;
  for (std::size_t b = 0; b < ProcessingHistogram::kBounds.size(); ++b) {
    cum += hist.counts[b];
    hm.histogram.bucket.push_back({cum, ProcessingHistogram::kBounds[b]});
  }
  hm.histogram.bucket.push_back({hist.count, std::numeric_limits<double>::infinity()});
  h.metric.push_back(std::move(hm));
}

void addReloads(Families& f, const ReloadCounters& reloads) {
  auto& rl = f.family("synguard_config_reloads_total", "Configuration reloads by result", kCounter);
  Families::add(rl, static_cast<double>(reloads.success.load()), {{"result", "success"}});
  Families::add(rl, static_cast<double>(reloads.failure.load()), {{"result", "failure"}});
  f.one("synguard_rules_restored_total",
        "Times the queue rules were found removed from outside and re-installed", kCounter,
        static_cast<double>(reloads.rules_restored.load()));
  f.one("synguard_config_last_reload_success", "1 if the last reload succeeded (or none happened)",
        kGauge, reloads.last_ok.load() ? 1 : 0);
}

/// The XDP fast path per configured interface (the families stay visible without XDP).
void addXdp(Families& f, const std::vector<xdp::InterfaceFigures>& interfaces) {
  auto& pk = f.family("synguard_xdp_packets_total",
                      "Packets the XDP program saw, by what it did (tx: answered with a cookie "
                      "SYN-ACK, pass: to the kernel and the queue, drop) and why",
                      kCounter);
  auto& at = f.family("synguard_xdp_attached",
                      "1 while the XDP program is attached to the interface in that mode", kGauge);
  auto& re = f.family("synguard_xdp_reattach_total",
                      "Times the interface disappeared and came back and XDP was attached again",
                      kCounter);
  for (const xdp::InterfaceFigures& i : interfaces) {
    for (std::size_t c = 0; c < i.counters.size(); ++c) {
      const xdp::CounterLabels l = xdp::counterLabels(static_cast<sg_xdp_counter>(c));
      Families::add(pk, static_cast<double>(i.counters[c]),
                    {{"action", std::string(l.action)},
                     {"interface", i.name},
                     {"reason", std::string(l.reason)}});
    }
    for (const auto m : {xdp::AttachMode::kNative, xdp::AttachMode::kGeneric}) {
      Families::add(at, i.mode == m ? 1 : 0, {{"interface", i.name}, {"mode", xdp::toString(m)}});
    }
    Families::add(re, static_cast<double>(i.reattaches), {{"interface", i.name}});
  }
}

}  // namespace

namespace {

/// proxy.handoff: the engines' offers that stayed (window scale), the daemon's outcomes.
void addHandoff(Families& f, const engine::EngineStats& t, const HandoffFigures& h) {
  auto& r = f.family("synguard_proxy_handoffs_total",
                     "Established proxied connections by what became of the handoff to conntrack",
                     kCounter);
  Families::add(r, static_cast<double>(h.created), {{"result", "conntrack"}});
  Families::add(r, static_cast<double>(t.proxy_handoff_window_scale), {{"result", "window_scale"}});
  Families::add(r, static_cast<double>(h.errors), {{"result", "error"}});
  f.one("synguard_proxy_handoff_learned_total",
        "Handed-off tuples added to the queue-skipping set from conntrack entries (ours and "
        "those conntrackd committed)",
        kCounter, static_cast<double>(h.learned));
  auto& c = f.family("synguard_proxy_handoff_syn_checks_total",
                     "Conntrack lookups after a SYN on a handed-off tuple was dropped, by what "
                     "they found",
                     kCounter);
  Families::add(c, static_cast<double>(h.checks_live), {{"found", "live"}});
  Families::add(c, static_cast<double>(h.checks_over), {{"found", "over"}});
  Families::add(c, static_cast<double>(h.checks_skipped), {{"found", "skipped"}});
}

}  // namespace

std::vector<MetricFamily> collectMetrics(
    const MetricsInfo& info, const std::vector<WorkerSnapshot>& workers,
    const std::vector<KernelQueueStats>& kernel, const ReloadCounters& reloads,
    std::uint64_t rule_hits, std::uint64_t unprotected, const RuleCounterTotals::Totals& spoofed,
    const std::vector<xdp::InterfaceFigures>& xdp, const HandoffFigures& handoff) {
  using engine::VerdictReason;
  Families f;
  Families::add(f.family("synguard_build_info", "synguard build information (always 1)", kGauge), 1,
                {{"version", info.version}});
  f.one("synguard_start_time_seconds", "Unix time the daemon started", kGauge, info.start_time);

  // Sums over the workers (each sees its share of every service's flows).
  const WorkerSnapshot sum = sumSnapshots(workers);
  const engine::EngineStats& t = sum.engine;
  f.one("synguard_half_open_connections", "Half-open connections now, all services", kGauge,
        static_cast<double>(sum.half_open));
  addServices(f, sum.services);
  addEngineCounters(f, t);
  // Special: derived from other figures (snapshot fields, or one index of an engine array).
  f.one("synguard_proxied_connections", "Connections proxied now", kGauge,
        static_cast<double>(sum.proxied_now));
  addHandoff(f, t, handoff);
  addVerdicts(f, t);
  f.one("synguard_table_entries", "Connections in the tables", kGauge,
        static_cast<double>(sum.table));
  f.one("synguard_table_capacity", "Connection table slots, all queues", kGauge,
        static_cast<double>(sum.table_capacity));
  f.one("synguard_table_evictions_total", "Connections evicted to make room", kCounter,
        static_cast<double>(
            t.connections_ended[static_cast<std::size_t>(engine::EndCause::kEvicted)]));
  const std::uint64_t overload_drops = addQueues(f, workers, kernel);
  f.one("synguard_overload_syns_dropped_total",
        "SYNs (and fragments) to drop_syn services the kernel dropped because the SYN queue was "
        "full while a service was in cookie mode (overload: drop_syn)",
        kCounter, static_cast<double>(overload_drops));
  f.one("synguard_queue_rule_packets_total",
        "Packets the rules handed to the queues (their nft counters)", kCounter,
        static_cast<double>(rule_hits));
  f.one("synguard_queue_unprotected_packets_total",
        "Packets that passed without a verdict (fail-open: queue or socket full, no daemon)",
        kCounter, static_cast<double>(unprotected));
  auto& sp = f.family("synguard_spoofed_service_source_dropped_total",
                      "Segments with a service's source address and port that arrived on an "
                      "interface they cannot come from, dropped before the queue (anti-spoofing)",
                      kCounter);
  for (const auto& [name, n] : spoofed) {
    Families::add(sp, static_cast<double>(n), {{"service", name}});
  }
  f.one("synguard_injected_packets_total", "Packets sent on raw sockets", kCounter,
        static_cast<double>(sum.sender.sent));
  f.one("synguard_injection_errors_total", "Raw socket send errors", kCounter,
        static_cast<double>(sum.sender.errors));

  addProcessingHistogram(f, sum.processing);
  addReloads(f, reloads);
  addXdp(f, xdp);
  return f.take();
}

Result<std::unique_ptr<MetricsExporter>> MetricsExporter::start(const std::string& listen,
                                                                MetricsInfo info,
                                                                SnapshotFn snapshots,
                                                                const ReloadCounters& reloads,
                                                                LiveQueueFigures live) {
  std::unique_ptr<MetricsExporter> m(new MetricsExporter());
  try {
    // civetweb: one thread is enough for a scrape every few seconds.
    m->exposer_ = std::make_unique<prometheus::Exposer>(listen, 1);
  } catch (const std::exception& e) {
    return Unexpected{Error{"metrics: cannot listen on " + listen + ": " + e.what()}};
  }
  m->collectable_ = std::make_shared<SnapshotCollectable>(std::move(info), std::move(snapshots),
                                                          reloads, std::move(live));
  m->exposer_->RegisterCollectable(m->collectable_);
  return m;
}

MetricsExporter::~MetricsExporter() = default;

void MetricsExporter::detachForExit() {
  static_cast<SnapshotCollectable*>(collectable_.get())->detach();
}

int MetricsExporter::port() const {
  const auto ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

}  // namespace synguard::daemon
