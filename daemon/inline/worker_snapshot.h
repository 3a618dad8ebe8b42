#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "daemon/inline/nfqueue.h"
#include "daemon/inline/raw_sender.h"
#include "engine/protect/adaptive_mode.h"
#include "engine/protect/protection.h"
#include "engine/stats.h"

namespace synguard::daemon {

/// One service as one worker's engine sees it (its share of the traffic).
struct ServiceFigures {
  std::string name;
  std::uint32_t half_open = 0;
  std::uint32_t peak_half_open = 0;
  double syn_rate = 0;  ///< smoothed SYNs/s
  std::uint64_t syns = 0;
  std::uint64_t cookies_sent = 0;
  std::uint64_t cookies_validated = 0;
  std::uint64_t cookies_rejected = 0;
  std::uint64_t proxied = 0;
  std::uint64_t mode_changes = 0;
  std::uint64_t would_cookie = 0;  ///< monitor: SYNs that would have been answered with a cookie
  std::uint64_t would_drop = 0;    ///< monitor: segments that would have been dropped
  std::uint64_t handshakes_completed = 0;
  engine::ServiceMode mode = engine::ServiceMode::kNormal;
  /// What this engine's cookie SYN-ACKs announce (Engine::cookieProfile): the XDP program
  /// answers with the same options.
  engine::ServerProfile profile;
};

/// Engine time per packet, recorded per batch (one clock read before and after the batch: the
/// batch's time divided by its packets, counted once per packet). Written by its worker only.
struct ProcessingHistogram {
  /// Upper bounds in seconds (+Inf implied): 250 ns .. 1 ms.
  static constexpr std::array<double, 10> kBounds = {250e-9, 500e-9, 1e-6,  2e-6,   5e-6,
                                                     10e-6,  25e-6,  50e-6, 100e-6, 1e-3};
  std::array<std::uint64_t, kBounds.size() + 1> counts{};  ///< not cumulative; last: +Inf
  double sum_seconds = 0;
  std::uint64_t count = 0;

  void record(std::int64_t batch_ns, std::size_t packets) noexcept {
    if (packets == 0 || batch_ns < 0) {
      return;
    }
    const double per = static_cast<double>(batch_ns) * 1e-9 / static_cast<double>(packets);
    std::size_t b = 0;
    while (b < kBounds.size() && per > kBounds[b]) {
      ++b;
    }
    counts[b] += packets;
    count += packets;
    sum_seconds += static_cast<double>(batch_ns) * 1e-9;
  }
};

/// What a worker publishes every 200 ms (under its mutex) for the main thread and the metrics
/// exporter; nothing on the packet path reads or writes shared state for them.
struct WorkerSnapshot {
  std::uint16_t queue = 0;
  engine::EngineStats engine;
  NfQueueStats queue_stats;
  /// The worker's SYN queue (overload drop_syn): its number, figures, and whether the kernel
  /// drops on overflow now (fail-open off: a drop_syn service is in cookie mode).
  std::uint16_t syn_queue = 0;
  NfQueueStats syn_queue_stats;
  bool syn_queue_drops = false;
  RawSenderStats sender;
  std::uint64_t half_open = 0;
  std::uint64_t table = 0;
  std::uint64_t table_capacity = 0;
  std::uint64_t proxied_now = 0;
  std::uint64_t truncated_rewrites = 0;
  std::vector<ServiceFigures> services;
  ProcessingHistogram processing;
};

/// The whole daemon: the workers' figures summed (per-service figures by position, which is the
/// configured order in every worker; modes and key rotations as the most of any worker).
/// Per-queue figures (queue_stats beyond the sums) stay per worker.
WorkerSnapshot sumSnapshots(const std::vector<WorkerSnapshot>& workers);

}  // namespace synguard::daemon
