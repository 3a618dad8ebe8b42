#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "daemon/inline/conntrack_handoff.h"
#include "daemon/inline/nfqueue.h"
#include "daemon/inline/raw_sender.h"
#include "daemon/inline/system_clock.h"
#include "daemon/inline/worker_snapshot.h"
#include "daemon/inline/xdp/offload_feedback.h"
#include "daemon/inline/xdp/xdp_program.h"
#include "engine/engine.h"

namespace synguard::daemon {

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

/// The load of a service on every worker but one, for that worker's mode machine.
class OthersLoad : public engine::ServiceLoadSource {
 public:
  OthersLoad(SharedLoad& shared, std::size_t me) : shared_(&shared), me_(me) {}
  void othersLoad(std::size_t service, std::uint32_t& half_open,
                  double& syn_rate) const noexcept override;

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
  void onModeChange(std::size_t service, const engine::ModeChange& c) noexcept override;
  /// proxy.handoff: passes the connection to the conntrack handoff (null: off).
  void setHandoff(ConntrackHandoff* h) { handoff_ = h; }
  void onProxyHandoff(const engine::ProxyHandoff& h) noexcept override {
    if (handoff_ != nullptr) {
      handoff_->request(h);
    }
  }
  void onHandoffTakenBack(const engine::FlowKey& tuple) noexcept override {
    if (handoff_ != nullptr) {
      handoff_->takeBack(tuple);
    }
  }
  void onHandedOffSyn(const engine::FlowKey& tuple) noexcept override {
    if (handoff_ != nullptr) {
      handoff_->checkEnded(tuple);
    }
  }

 private:
  std::uint16_t queue_;
  ConntrackHandoff* handoff_ = nullptr;
  const engine::Engine* eng_ = nullptr;
};

/// A new engine configuration for the workers (SIGHUP): published by the main thread, taken by
/// each worker between two batches (engines are single-threaded).
struct ReloadSlot {
  std::mutex mutex;
  std::shared_ptr<const engine::EngineConfig> config;
  std::atomic<std::uint64_t> generation{0};
};

/// What every worker shares with the main thread.
struct WorkerContext {
  SharedLoad& shared;
  ReloadSlot& reload;
  const SystemClock& clock;
  const std::atomic<bool>& stop;  ///< the rules are gone: drain the queues and return
  /// The XDP program whose per-service counters this worker feeds into its engine
  /// (Engine::noteOffloaded); null for every worker but the first, or without XDP. The
  /// program outlives the workers; its reads are map lookups only.
  const std::atomic<const xdp::XdpProgram*>* xdp = nullptr;
  /// proxy.handoff: what conntrack reported of handed-off connections (null: off).
  ConntrackHandoff* handoff = nullptr;
};

/// One queue pair and the engine judging it, on its own thread.
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
  WorkerSnapshot snap;
  std::uint64_t truncated_rewrites = 0;
  ProcessingHistogram processing;                    ///< written by the worker, copied into snap
  std::atomic<std::uint64_t> applied_generation{0};  ///< last ReloadSlot generation taken
  std::atomic<std::uint64_t> verdicts{0};            ///< verdicts given, both queues (any thread)
  std::string reload_error;                          ///< of that generation (under mutex)
  xdp::OffloadFeedback offload;        ///< worker 0: the XDP counters already fed to the engine
  std::int64_t last_offload_ns = 0;    ///< when they were last read
  std::vector<HandoffNotice> notices;  ///< proxy.handoff: taken each turn (reused buffer)
};

/// Copies a worker's figures for the main thread (status line, STATUS=, the final line).
void takeSnapshot(Worker& w);

/// Whether the worker's SYN queue must drop on overflow: some service whose SYNs go there
/// (dropsSynsOnOverload) is in cookie mode in this engine (its mode machine decides on the
/// load summed over all workers), and the engine enforces (not a dry run or monitor service).
bool synQueueMustDrop(const engine::Engine& eng);

/// The packet loop of one worker, until `ctx.stop` is set and its queues are drained.
void workerLoop(Worker& w, const WorkerContext& ctx);

/// The workers' latest snapshots, each copied under its lock.
std::vector<WorkerSnapshot> snapshots(const std::vector<std::unique_ptr<Worker>>& workers);

/// One line of the workers' summed figures (STATUS=, "stats:", the final line).
std::string statusLine(const std::vector<std::unique_ptr<Worker>>& workers);

}  // namespace synguard::daemon
