#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "daemon/inline/metrics.h"
#include "daemon/inline/nft_rules.h"
#include "daemon/inline/worker.h"
#include "engine/engine.h"

namespace synguard::daemon {

/// The installed queue rules and the main thread's watch over them, every half second: their
/// counters give the packets that passed without a verdict (fail-open) and the anti-spoofing
/// drops, and a ruleset that lost our rules (`nft flush ruleset` by a firewall reload,
/// `iptables -t raw -F`) gets them back.
class RuleWatcher {
 public:
  /// `ropts`: the running rule options, owned by the caller and updated on reloads.
  RuleWatcher(NftRules rules, const RuleOptions& ropts, ReloadCounters& reloads)
      : rules_(std::move(rules)), ropts_(&ropts), reloads_(&reloads) {}

  /// Reads the rule counters and the queues; puts the rules back if they are gone.
  void check(const std::vector<engine::ServiceConfig>& services,
             const std::vector<std::unique_ptr<Worker>>& workers);
  /// Re-installs the rules for `next` in one transaction (a reload), carrying the counters.
  Result<void> replace(const std::vector<engine::ServiceConfig>& services, const RuleOptions& next);
  /// The rules may have changed: the next reading is the baseline of how many there are.
  void rebaseline() { rules_expected_ = 0; }
  /// Removes the rules (the daemon stops).
  Result<void> remove() { return rules_->remove(); }
  /// The figures scrapes read (rule hits, unprotected packets, anti-spoofing drops).
  LiveQueueFigures liveFigures();

 private:
  void restore(const std::vector<engine::ServiceConfig>& services, const std::string& why);
  void estimateUnprotected(const QueueRuleReading& reading,
                           const std::vector<std::unique_ptr<Worker>>& workers);

  std::optional<NftRules> rules_;
  const RuleOptions* ropts_;
  ReloadCounters* reloads_;
  // Packets that passed without a verdict (fail-open), inferred from the rule counters, the
  // queues' backlog and the verdicts, read in that order.
  UnprotectedEstimator estimator_;
  std::atomic<std::uint64_t> rule_hits_{0};
  std::atomic<std::uint64_t> unprotected_{0};
  std::uint64_t unprotected_logged_ = 0;
  // The anti-spoofing drops per service, read with the queue rules' counters.
  RuleCounterTotals spoofed_;
  std::mutex spoofed_mutex_;  // the exporter's scrapes read it
  // Two readings in a row (0.5 s apart) with fewer queue rules than the first reading after an
  // install (or without our table) put them back; a failed attempt is retried every 5 s.
  int rules_missing_ = 0;
  std::size_t rules_expected_ = 0;  // 0: take the next reading as the baseline
  std::chrono::steady_clock::time_point next_restore_ = std::chrono::steady_clock::now();
};

}  // namespace synguard::daemon
