#pragma once

#include <libnetfilter_conntrack/libnetfilter_conntrack.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
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
  std::atomic<std::uint64_t> created{0};     ///< entries the kernel accepted
  std::atomic<std::uint64_t> replaced{0};    ///< ... after deleting an entry of the tuple first
  std::atomic<std::uint64_t> errors{0};      ///< creations that failed: stays in user space
  std::atomic<std::uint64_t> dropped{0};     ///< requests lost: the pending list was full
  std::atomic<std::uint64_t> learned{0};     ///< tuples added to the set from conntrack entries
  std::atomic<std::uint64_t> forgotten{0};   ///< tuples removed: their entry was destroyed
  std::atomic<std::uint64_t> set_errors{0};  ///< set updates that failed
};

struct HandoffOptions {
  std::string nft_table = "synguard";  ///< holds the sets handoff4 and handoff6
  std::uint32_t timeout_s = 432000;    ///< the entries' first timeout (the established one)
  std::size_t max_pending = 65536;     ///< requests waiting for the thread at most
};

/// Hands established proxied connections to the kernel: one thread creates their conntrack
/// entries over ctnetlink (libnetfilter_conntrack) with the sequence adjustment (and the
/// synproxy extension's timestamp offset), and keeps the nft sets of handed-off tuples in
/// step with conntrack itself: a dump at start, then NEW and DESTROY events of entries with
/// kCtMarkHandoff — those it created and those conntrackd committed on a backup gateway.
/// request() is the workers' (any thread, no syscall); everything else runs on the thread.
class ConntrackHandoff {
 public:
  static Result<std::unique_ptr<ConntrackHandoff>> start(const HandoffOptions& opts);
  ~ConntrackHandoff();
  ConntrackHandoff(const ConntrackHandoff&) = delete;
  ConntrackHandoff& operator=(const ConntrackHandoff&) = delete;

  /// Queues a connection for the kernel (counted as dropped when too many wait).
  void request(const engine::ProxyHandoff& h) noexcept;
  const HandoffCounters& counters() const noexcept { return counters_; }

  /// The set elements (nft syntax) of both directions of an entry's tuple; exposed for tests.
  static std::string setElements(const nf_conntrack* ct);

 private:
  explicit ConntrackHandoff(HandoffOptions opts) : opts_(std::move(opts)) {}
  void run();
  void createAll(std::vector<engine::ProxyHandoff>& batch);
  bool create(const engine::ProxyHandoff& h);
  void applySetChanges();
  static int onEvent(nf_conntrack_msg_type type, nf_conntrack* ct, void* self);

  HandoffOptions opts_;
  HandoffCounters counters_;
  nfct_handle* query_ = nullptr;   ///< creations, deletions and the dump
  nfct_handle* events_ = nullptr;  ///< NEW and DESTROY events
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<engine::ProxyHandoff> pending_;  ///< under mutex_
  std::atomic<bool> stop_{false};
  std::string adds_;  ///< elements to add to set handoff4/6, by family (thread only)
  std::string adds6_;
  std::vector<std::string> deletes_;  ///< both directions of a destroyed entry, per entry
  std::vector<std::string> deletes6_;
  std::thread thread_;
};

}  // namespace synguard::daemon
