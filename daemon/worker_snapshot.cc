#include "daemon/worker_snapshot.h"

#include <algorithm>

namespace synguard::daemon {

namespace {

template <typename A>
void addEach(A& to, const A& from) {
  for (std::size_t i = 0; i < to.size(); ++i) {
    to[i] += from[i];
  }
}

}  // namespace

WorkerSnapshot sumSnapshots(const std::vector<WorkerSnapshot>& workers) {
  WorkerSnapshot t;
  for (const WorkerSnapshot& w : workers) {
    const engine::EngineStats& e = w.engine;
    engine::EngineStats& s = t.engine;
    addEach(s.accepted, e.accepted);
    addEach(s.dropped, e.dropped);
    addEach(s.invalid, e.invalid);
    addEach(s.icmp, e.icmp);
    addEach(s.cookies_rejected, e.cookies_rejected);
    addEach(s.connections_by_state, e.connections_by_state);
    addEach(s.connections_ended, e.connections_ended);
    s.packets += e.packets;
    s.cookies_sent += e.cookies_sent;
    s.cookies_validated += e.cookies_validated;
    s.proxy_completed += e.proxy_completed;
    s.mode_changes += e.mode_changes;
    s.bypass_started += e.bypass_started;
    s.table_full += e.table_full;
    s.first_fragments += e.first_fragments;
    s.unassured += e.unassured;
    s.connections_assured += e.connections_assured;
    addEach(s.evictions, e.evictions);
    s.source_limit_overflow += e.source_limit_overflow;
    // Every worker derives the same period keys from the same wall clock: one count, not a sum.
    s.key_rotations = std::max(s.key_rotations, e.key_rotations);

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
