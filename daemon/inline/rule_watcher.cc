#include "daemon/inline/rule_watcher.h"

#include "daemon/inline/log.h"

namespace synguard::daemon {

void RuleWatcher::check(const std::vector<engine::ServiceConfig>& services,
                        const std::vector<std::unique_ptr<Worker>>& workers) {
  auto reading = readQueueRules(*ropts_, rules_->usesXt());
  if (reading && rules_expected_ == 0) {
    rules_expected_ = reading->rules;
  }
  if (!reading || reading->rules == 0 || reading->rules < rules_expected_) {
    restore(services, !reading ? reading.error().message
                               : std::to_string(reading->rules) + " of " +
                                     std::to_string(rules_expected_) + " queue rules left");
    return;
  }
  rules_missing_ = 0;
  {
    const std::lock_guard<std::mutex> lock(spoofed_mutex_);
    spoofed_.update(reading->spoofed);
  }
  estimateUnprotected(*reading, workers);
}

void RuleWatcher::estimateUnprotected(const QueueRuleReading& reading,
                                      const std::vector<std::unique_ptr<Worker>>& workers) {
  // Waiting in our queues, and dropped by the kernel (a full SYN queue without fail-open;
  // a regular queue never drops): neither passed unprotected.
  std::uint64_t waiting = 0;
  std::uint64_t dropped = 0;
  for (const KernelQueueStats& k : readKernelQueueStats()) {
    for (const auto& w : workers) {
      if (k.queue == w->queue || k.queue == w->syn_queue) {
        waiting += k.waiting;
        dropped += k.queue_dropped + k.user_dropped;
      }
    }
  }
  std::uint64_t verdicts = 0;
  for (const auto& w : workers) {
    verdicts += w->verdicts.load(std::memory_order_acquire);
  }
  unprotected_.store(estimator_.update(reading.hits, waiting, verdicts, dropped));
  rule_hits_.store(estimator_.ruleHits());
  if (unprotected_.load() > unprotected_logged_) {
    logLine(LogLevel::kWarning,
            std::to_string(unprotected_.load() - unprotected_logged_) +
                " packets passed without a verdict (the queues overflowed: fail-open)");
    unprotected_logged_ = unprotected_.load();
  }
}

void RuleWatcher::restore(const std::vector<engine::ServiceConfig>& services,
                          const std::string& why) {
  const auto now = std::chrono::steady_clock::now();
  if (++rules_missing_ < 2 || now < next_restore_) {
    return;
  }
  auto fresh = NftRules::install(services, *ropts_);
  if (!fresh) {
    next_restore_ = now + std::chrono::seconds(5);
    logLine(LogLevel::kError, "the queue rules are gone (" + why +
                                  ") and re-installing them failed: " + fresh.error().message +
                                  "; retrying in 5 s");
    return;
  }
  rules_->disown();  // whatever is left of them was replaced in place
  rules_.emplace(std::move(*fresh));
  {
    const std::lock_guard<std::mutex> lock(spoofed_mutex_);
    spoofed_.restarted();
  }
  rules_missing_ = 0;
  rules_expected_ = 0;
  reloads_->rules_restored.fetch_add(1);
  logLine(LogLevel::kWarning, "the queue rules were removed from outside (" + why +
                                  "): re-installed; meanwhile the traffic passed unprotected");
}

Result<void> RuleWatcher::replace(const std::vector<engine::ServiceConfig>& services,
                                  const RuleOptions& next) {
  // The counters start again with the new rules: take the last of the old ones first.
  const std::lock_guard<std::mutex> lock(spoofed_mutex_);
  if (auto reading = readQueueRules(*ropts_, rules_->usesXt())) {
    spoofed_.update(reading->spoofed);
  }
  auto fresh = NftRules::install(services, next);
  if (!fresh) {
    return Unexpected{Error{"rules: " + fresh.error().message}};
  }
  spoofed_.restarted();
  rules_->disown();  // replaced in place by the new install
  rules_.emplace(std::move(*fresh));
  return {};
}

LiveQueueFigures RuleWatcher::liveFigures() {
  return LiveQueueFigures{
      [this] {
        return std::pair<std::uint64_t, std::uint64_t>{rule_hits_.load(), unprotected_.load()};
      },
      [this] {
        const std::lock_guard<std::mutex> lock(spoofed_mutex_);
        return spoofed_.totals();
      },
      {},   // the XDP figures: the daemon adds them (XdpPath::figures)
      {}};  // and the handoff's (ConntrackHandoff::counters)
}

}  // namespace synguard::daemon
