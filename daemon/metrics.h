#pragma once

#include <prometheus/metric_family.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "daemon/worker_snapshot.h"
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

/// Config reloads, written by the main thread, read by scrapes.
struct ReloadCounters {
  std::atomic<std::uint64_t> success{0};
  std::atomic<std::uint64_t> failure{0};
  std::atomic<bool> last_ok{true};
};

struct MetricsInfo {
  std::string version;
  double start_time = 0;  ///< Unix seconds
};

/// Every metric of docs/METRICS.md from the workers' snapshots (summed over queues).
std::vector<prometheus::MetricFamily> collectMetrics(const MetricsInfo& info,
                                                     const std::vector<WorkerSnapshot>& workers,
                                                     const std::vector<KernelQueueStats>& kernel,
                                                     const ReloadCounters& reloads);

/// The HTTP endpoint (prometheus-cpp pull, civetweb): each scrape asks `snapshots` for the
/// workers' latest figures and the kernel for its queue counters. The workers' packet loops
/// never touch it.
class MetricsExporter {
 public:
  using SnapshotFn = std::function<std::vector<WorkerSnapshot>()>;
  /// `listen` is "ADDRESS:PORT" ("[::1]:9815" for IPv6). A port in use is a clear error.
  static Result<std::unique_ptr<MetricsExporter>> start(const std::string& listen, MetricsInfo info,
                                                        SnapshotFn snapshots,
                                                        const ReloadCounters& reloads);
  ~MetricsExporter();
  MetricsExporter(const MetricsExporter&) = delete;
  MetricsExporter& operator=(const MetricsExporter&) = delete;
  /// The bound port (useful with port 0).
  int port() const;

 private:
  MetricsExporter() = default;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::shared_ptr<prometheus::Collectable> collectable_;
};

}  // namespace synguard::daemon
