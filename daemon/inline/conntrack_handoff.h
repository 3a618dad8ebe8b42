#pragma once

#include <libnetfilter_conntrack/libnetfilter_conntrack.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/connection_observer.h"
#include "engine/result.h"

namespace synguard::daemon {

/// The conntrack mark of the entries synguard hands to the kernel (proxy.handoff conntrack).
/// conntrackd replicates it with the entry, so a backup gateway knows them by it.
constexpr std::uint32_t kCtMarkHandoff = 0x5e000005;

/// What the handoff did, written by its thread, read by scrapes.
struct HandoffCounters {
  std::atomic<std::uint64_t> created{0};         ///< entries the kernel accepted
  std::atomic<std::uint64_t> replaced{0};        ///< ... after deleting an entry of the tuple first
  std::atomic<std::uint64_t> errors{0};          ///< creations that failed: stays in user space
  std::atomic<std::uint64_t> dropped{0};         ///< requests lost: the pending list was full
  std::atomic<std::uint64_t> learned{0};         ///< tuples added to the set from conntrack entries
  std::atomic<std::uint64_t> forgotten{0};       ///< tuples removed: their entry was destroyed
  std::atomic<std::uint64_t> set_errors{0};      ///< set updates that failed
  std::atomic<std::uint64_t> closed{0};          ///< entries that reached TIME_WAIT (then deleted)
  std::atomic<std::uint64_t> taken_back{0};      ///< entries deleted: the engine translates again
  std::atomic<std::uint64_t> checked{0};         ///< lookups after a SYN on a handed-off tuple
  std::atomic<std::uint64_t> check_ended{0};     ///< ... that found the connection over
  std::atomic<std::uint64_t> checks_skipped{0};  ///< ... not made: too many were waiting
};

/// What the handoff thread tells the workers' engines (Engine::handoffEnded).
struct HandoffNotice {
  engine::FlowKey tuple;
  engine::HandoffEnd how = engine::HandoffEnd::kGone;
};

struct HandoffOptions {
  std::string nft_table = "synguard";  ///< holds the sets handoff4 and handoff6
  std::uint32_t timeout_s = 432000;    ///< the entries' first timeout (the established one)
  std::size_t max_pending = 65536;     ///< requests waiting for the thread at most
  /// lookups after a SYN waiting at most: a SYN flood on a live tuple must neither starve the
  /// handoffs nor keep the thread busy for long; a SYN whose lookup is skipped stays dropped
  std::size_t max_pending_checks = 256;
  std::size_t workers = 1;  ///< engines to tell about ends (one outbox each)
};

/// Hands established proxied connections to the kernel: one thread creates their conntrack
/// entries over ctnetlink (libnetfilter_conntrack) with the sequence adjustment (and the
/// synproxy extension's timestamp offset), and keeps the nft sets of handed-off tuples in
/// step with conntrack itself: a dump at start, then NEW and DESTROY events of entries with
/// kCtMarkHandoff — those it created and those conntrackd committed on a backup gateway.
/// It also follows their ends: an entry that reaches TIME_WAIT (a kernel-side filter on mark
/// and state) leaves the sets and conntrack, and the engines are told (HandoffNotice), so the
/// engine's TIME-WAIT takes over the tuple and the client's proxy.max_per_source share is
/// free; a destroyed entry is forgotten by the engine that handed it off.
/// request(), takeBack(), checkEnded() and takeNotices() are the workers' (any thread, no
/// syscall); everything else runs on the thread.
class ConntrackHandoff {
 public:
  static Result<std::unique_ptr<ConntrackHandoff>> start(const HandoffOptions& opts);
  ~ConntrackHandoff();
  ConntrackHandoff(const ConntrackHandoff&) = delete;
  ConntrackHandoff& operator=(const ConntrackHandoff&) = delete;

  /// Queues a connection for the kernel (counted as dropped when too many wait; its engine
  /// is then told to keep it: HandoffEnd::kTakenBack).
  void request(const engine::ProxyHandoff& h) noexcept;
  /// The engine took a connection back (a FIN or RST reached it): its set elements, then its
  /// conntrack entry, go.
  void takeBack(const engine::FlowKey& tuple) noexcept;
  /// A SYN on a handed-off tuple was dropped: if conntrack's entry is gone, closed or reset,
  /// the engines are told it is gone (and the entry goes), so the client's retry is new.
  void checkEnded(const engine::FlowKey& tuple) noexcept;
  /// Appends the notices for worker `worker` to `out` (a relaxed load when there are none).
  void takeNotices(std::size_t worker, std::vector<HandoffNotice>& out);
  const HandoffCounters& counters() const noexcept { return counters_; }

  /// The set elements (nft syntax) of both directions of a tuple; exposed for tests.
  static std::string setElements(const engine::FlowKey& tuple);
  /// An entry's original tuple (nullopt: not TCP, or an address missing).
  static std::optional<engine::FlowKey> tupleOf(const nf_conntrack* ct);

 private:
  enum class Kind : std::uint8_t { kCreate, kTakeBack, kCheck };
  struct Request {
    Kind kind = Kind::kCreate;
    engine::ProxyHandoff h;  ///< kTakeBack, kCheck: the tuple only
  };
  struct Outbox {
    std::mutex mutex;
    std::vector<HandoffNotice> notices;  ///< under mutex
    std::atomic<bool> any{false};
  };

  explicit ConntrackHandoff(HandoffOptions opts);
  void enqueue(Kind kind, const engine::ProxyHandoff& h) noexcept;
  void run();
  void serve(std::vector<Request>& batch);
  bool create(const engine::ProxyHandoff& h);
  void check(const engine::FlowKey& tuple);
  /// The tuple leaves the sets, then (after applySetChanges) conntrack.
  void forget(const engine::FlowKey& tuple, bool delete_entry);
  void notify(const engine::FlowKey& tuple, engine::HandoffEnd how) noexcept;
  /// "element inet TABLE handoff4|6 { both directions }" (an nft command without its verb).
  std::string elementsIn(const engine::FlowKey& tuple) const;
  void addToSets(const engine::FlowKey& tuple);
  void applySetChanges();
  static int onEvent(nf_conntrack_msg_type type, nf_conntrack* ct, void* self);
  static int onUpdate(nf_conntrack_msg_type type, nf_conntrack* ct, void* self);

  HandoffOptions opts_;
  HandoffCounters counters_;
  nfct_handle* query_ = nullptr;    ///< creations, deletions and the dump
  nfct_handle* events_ = nullptr;   ///< NEW and DESTROY events
  nfct_handle* updates_ = nullptr;  ///< UPDATE events: our entries reaching TIME_WAIT
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Request> pending_;                   ///< under mutex_
  std::size_t pending_checks_ = 0;                 ///< kCheck requests in pending_ (under mutex_)
  std::vector<std::unique_ptr<Outbox>> outboxes_;  ///< one per worker
  std::atomic<bool> stop_{false};
  /// nft commands on the sets, in the order the events came (one transaction per turn).
  std::string set_ops_;
  std::vector<engine::FlowKey> ct_deletes_;  ///< entries to delete once out of the sets
  std::thread thread_;
};

}  // namespace synguard::daemon
