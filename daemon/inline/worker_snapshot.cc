#include "daemon/inline/worker_snapshot.h"

#include <algorithm>
#include <span>
#include <vector>

namespace synguard::daemon {

namespace {

template <typename A>
void addEach(A& to, const A& from) {
  for (std::size_t i = 0; i < to.size(); ++i) {
    to[i] += from[i];
  }
}

/// Adds one worker's engine counters to `to`, each as its description says (forEachCounter).
void sumEngineStats(engine::EngineStats& to, const engine::EngineStats& from) {
  // Both structs are visited in the same order: collect `from`'s spans, then merge into `to`'s.
  std::vector<std::span<const std::uint64_t>> src;
  engine::forEachCounter(from, [&src](const engine::CounterInfo&,
                                      std::span<const std::uint64_t> v) { src.push_back(v); });
  std::size_t n = 0;
  engine::forEachCounter(to, [&](const engine::CounterInfo& info, std::span<std::uint64_t> v) {
    const std::span<const std::uint64_t> f = src[n++];
    for (std::size_t i = 0; i < v.size(); ++i) {
      switch (info.combine) {
        case engine::Combine::kSum:
          v[i] += f[i];
          break;
        case engine::Combine::kMax:
          v[i] = std::max(v[i], f[i]);
          break;
      }
    }
  });
}

}  // namespace

WorkerSnapshot sumSnapshots(const std::vector<WorkerSnapshot>& workers) {
  WorkerSnapshot t;
  for (const WorkerSnapshot& w : workers) {
    sumEngineStats(t.engine, w.engine);

    // Both queues of the worker (regular and SYN) in the sums.
    for (const NfQueueStats* q : {&w.queue_stats, &w.syn_queue_stats}) {
      t.queue_stats.packets += q->packets;
      t.queue_stats.enobufs += q->enobufs;
      t.queue_stats.failed_open += q->failed_open;
      t.queue_stats.verdict_errors += q->verdict_errors;
    }
    t.sender.sent += w.sender.sent;
    t.sender.errors += w.sender.errors;
    t.half_open += w.half_open;
    t.table += w.table;
    t.table_capacity += w.table_capacity;
    t.proxied_now += w.proxied_now;
    t.truncated_rewrites += w.truncated_rewrites;

    for (std::size_t i = 0; i < w.services.size(); ++i) {
      if (t.services.size() <= i) {
        t.services.push_back(ServiceFigures{});
        t.services[i].name = w.services[i].name;
      }
      const ServiceFigures& x = w.services[i];
      ServiceFigures& y = t.services[i];
      y.half_open += x.half_open;
      y.peak_half_open += x.peak_half_open;
      y.syn_rate += x.syn_rate;
      y.syns += x.syns;
      y.cookies_sent += x.cookies_sent;
      y.cookies_validated += x.cookies_validated;
      y.cookies_rejected += x.cookies_rejected;
      y.proxied += x.proxied;
      y.would_cookie += x.would_cookie;
      y.would_drop += x.would_drop;
      y.handshakes_completed += x.handshakes_completed;
      // Every queue flips when the service does (they decide on its summed load): the
      // service's transitions are the most any queue made.
      y.mode_changes = std::max(y.mode_changes, x.mode_changes);
      if (x.mode == engine::ServiceMode::kCookie) {
        y.mode = engine::ServiceMode::kCookie;  // in cookie mode if any queue is
      }
    }
    addEach(t.processing.counts, w.processing.counts);
    t.processing.count += w.processing.count;
    t.processing.sum_seconds += w.processing.sum_seconds;
  }
  return t;
}

}  // namespace synguard::daemon
