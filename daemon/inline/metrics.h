#pragma once

#include <prometheus/metric_family.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "daemon/inline/worker_snapshot.h"
#include "daemon/inline/xdp/xdp_figures.h"
#include "engine/result.h"

namespace prometheus {
class Exposer;
class Collectable;
}  // namespace prometheus

namespace synguard::daemon {

/// The kernel's view of one NFQUEUE queue (/proc/net/netfilter/nfnetlink_queue).
struct KernelQueueStats {
  std::uint16_t queue = 0;
  std::uint64_t waiting = 0;        ///< queue_total: packets waiting for a verdict now
  std::uint64_t queue_dropped = 0;  ///< the queue was full (with fail-open: accepted unprotected)
  std::uint64_t user_dropped = 0;   ///< the netlink socket was full
};

/// Parses the kernel's table; lines that do not parse are skipped. Empty if unreadable.
std::vector<KernelQueueStats> readKernelQueueStats(
    const std::string& path = "/proc/net/netfilter/nfnetlink_queue");

/// Packets that passed without a verdict from the daemon (fail-open: the kernel's queue full, the
/// socket full, or no daemon listening). The kernel counts none of the queue-full case and
/// assigns those packets no id, so it is inferred: R packets hit the queue rules (their nft
/// counters), Q wait in the queues now, V got a verdict. Read in that order, every packet in R
/// is in Q or V unless it failed open, so R - Q - V never overestimates; the running maximum
/// makes it a counter. Rule counters restart when the rules are re-installed (a reload): the
/// hits before are carried.
class UnprotectedEstimator {
 public:
  /// `dropped`: what the kernel dropped from the queues (a full SYN queue without fail-open),
  /// read after the verdicts: neither got a verdict nor passed.
  std::uint64_t update(std::uint64_t rule_hits, std::uint64_t waiting, std::uint64_t verdicts,
                       std::uint64_t dropped = 0);
  std::uint64_t ruleHits() const { return carry_ + last_hits_; }

 private:
  std::uint64_t carry_ = 0;
  std::uint64_t last_hits_ = 0;
  std::uint64_t max_ = 0;
};

/// Per-name rule counters (the anti-spoofing drops per service) made monotonic across
/// re-installs of the rules, which start every counter again at 0.
class RuleCounterTotals {
 public:
  using Totals = std::vector<std::pair<std::string, std::uint64_t>>;
  /// A reading of the counters as the kernel has them now.
  void update(const std::map<std::string, std::uint64_t>& reading);
  /// The rules are about to be (or were just) re-installed: what was read so far is kept.
  void restarted();
  /// Every name ever read, with its total (names of services since removed keep theirs).
  Totals totals() const;

 private:
  struct Counter {
    std::uint64_t carry = 0;
    std::uint64_t last = 0;
  };
  std::map<std::string, Counter> counters_;
};

/// proxy.handoff (daemon/inline/conntrack_handoff.h): what became of the connections offered.
struct HandoffFigures {
  std::uint64_t created = 0;         ///< conntrack entries created
  std::uint64_t errors = 0;          ///< not created (or the request lost): stayed in user space
  std::uint64_t learned = 0;         ///< tuples added to the handoff set from conntrack entries
  std::uint64_t checks_live = 0;     ///< lookups after a SYN on a handed-off tuple: still live
  std::uint64_t checks_over = 0;     ///< ... over (gone, closed, reset): the engines forget it
  std::uint64_t checks_skipped = 0;  ///< ... not made: too many waiting (a SYN flood on a tuple)
};

/// Figures the main thread keeps current (it reads the rule counters through libnftables,
/// which must not run on the exporter's small-stack threads): rule hits and unprotected packets.
struct LiveQueueFigures {
  std::function<std::pair<std::uint64_t, std::uint64_t>()> hits_and_unprotected;
  /// Per service: segments with its source address dropped by the anti-spoofing rules.
  std::function<RuleCounterTotals::Totals()> spoofed;
  /// Per configured XDP interface: its attach mode and the program's counters (empty: no XDP).
  std::function<std::vector<xdp::InterfaceFigures>()> xdp;
  /// proxy.handoff's figures (empty: off, all zero).
  std::function<HandoffFigures()> handoff;
};

/// Config reloads, written by the main thread, read by scrapes.
struct ReloadCounters {
  std::atomic<std::uint64_t> success{0};
  std::atomic<std::uint64_t> failure{0};
  std::atomic<bool> last_ok{true};
  /// Our rules were found removed by someone else and put back (daemon/inline/rule_watcher.cc).
  std::atomic<std::uint64_t> rules_restored{0};
};

struct MetricsInfo {
  std::string version;
  double start_time = 0;  ///< Unix seconds
};

/// Every metric of docs/METRICS.md from the workers' snapshots (summed over queues).
/// `unprotected` and `rule_hits`: from an UnprotectedEstimator (0 when not measured).
std::vector<prometheus::MetricFamily> collectMetrics(
    const MetricsInfo& info, const std::vector<WorkerSnapshot>& workers,
    const std::vector<KernelQueueStats>& kernel, const ReloadCounters& reloads,
    std::uint64_t rule_hits = 0, std::uint64_t unprotected = 0,
    const RuleCounterTotals::Totals& spoofed = {},
    const std::vector<xdp::InterfaceFigures>& xdp = {}, const HandoffFigures& handoff = {});

/// The HTTP endpoint (prometheus-cpp pull, civetweb): each scrape asks `snapshots` for the
/// workers' latest figures and the kernel for its queue counters. The workers' packet loops
/// never touch it.
class MetricsExporter {
 public:
  using SnapshotFn = std::function<std::vector<WorkerSnapshot>()>;
  /// `listen` is "ADDRESS:PORT" ("[::1]:9815" for IPv6). A port in use is a clear error.
  static Result<std::unique_ptr<MetricsExporter>> start(const std::string& listen, MetricsInfo info,
                                                        SnapshotFn snapshots,
                                                        const ReloadCounters& reloads,
                                                        LiveQueueFigures live = {});
  ~MetricsExporter();
  MetricsExporter(const MetricsExporter&) = delete;
  MetricsExporter& operator=(const MetricsExporter&) = delete;
  /// The bound port (useful with port 0).
  int port() const;
  /// Waits for a scrape in progress, then makes every later scrape answer nothing: for a
  /// process about to exit without destroying the exporter (civetweb's stop takes ~2 s).
  void detachForExit();

 private:
  MetricsExporter() = default;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::shared_ptr<prometheus::Collectable> collectable_;
};

}  // namespace synguard::daemon
