#include "daemon/inline/reload.h"

#include <array>
#include <chrono>
#include <thread>

#include "engine/limits.h"

namespace synguard::daemon {

namespace {

/// One setting a reload keeps: its name in the "needs a restart" message, whether the new
/// configuration changes it, and how its running value is put back.
struct KeptSetting {
  const char* what;
  bool (*changed)(const RunOptions& next, const RunOptions& running);
  void (*keep)(RunOptions& next, const RunOptions& running);
};

// In the order the message names them, before the engine's own (Engine::keepOnReload): the
// daemon lists what it set up at start, the engine what it sized or handed out.
const std::array<KeptSetting, 9> kKeptOnReload{{
    {"queues",
     [](const RunOptions& n, const RunOptions& r) { return n.queues != 0 && n.queues != r.queues; },
     [](RunOptions& n, const RunOptions& r) { n.queues = r.queues; }},
    {"first queue",
     [](const RunOptions& n, const RunOptions& r) { return n.first_queue != r.first_queue; },
     [](RunOptions& n, const RunOptions& r) { n.first_queue = r.first_queue; }},
    {"rule mode",
     [](const RunOptions& n, const RunOptions& r) { return n.rule_mode != r.rule_mode; },
     [](RunOptions& n, const RunOptions& r) { n.rule_mode = r.rule_mode; }},
    {"nftables table",
     [](const RunOptions& n, const RunOptions& r) { return n.nft_table != r.nft_table; },
     [](RunOptions& n, const RunOptions& r) { n.nft_table = r.nft_table; }},
    {"bypass", [](const RunOptions& n, const RunOptions& r) { return n.bypass != r.bypass; },
     [](RunOptions& n, const RunOptions& r) {
       n.bypass = r.bypass;
       n.engine.bypass_established = r.engine.bypass_established;
     }},
    // Its rules, sets and conntrack thread are set up at start.
    {"proxy handoff",
     [](const RunOptions& n, const RunOptions& r) {
       return n.engine.protection.proxy.handoff != r.engine.protection.proxy.handoff;
     },
     [](RunOptions& n, const RunOptions& r) {
       n.engine.protection.proxy.handoff = r.engine.protection.proxy.handoff;
     }},
    // The engines keep the secrets they were created with: the key file is not read again.
    {"key file", [](const RunOptions& n, const RunOptions& r) { return n.key_file != r.key_file; },
     [](RunOptions& n, const RunOptions& r) { n.key_file = r.key_file; }},
    {"user", [](const RunOptions& n, const RunOptions& r) { return n.user != r.user; },
     [](RunOptions& n, const RunOptions& r) { n.user = r.user; }},
    {"metrics listen address",
     [](const RunOptions& n, const RunOptions& r) { return n.metrics_listen != r.metrics_listen; },
     [](RunOptions& n, const RunOptions& r) { n.metrics_listen = r.metrics_listen; }},
}};

}  // namespace

Result<RunOptions> loadReloaded(const RunOptions& running) {
  if (!running.reload) {
    return Unexpected{Error{"started without a configuration file (--config)"}};
  }
  auto loaded = running.reload();
  if (!loaded) {
    return Unexpected{loaded.error()};
  }
  const engine::EngineConfig& cfg = loaded->engine;
  if (cfg.protection.services.empty()) {
    return Unexpected{Error{"no service to protect"}};
  }
  if (cfg.protection.services.size() > engine::kMaxServices) {
    return Unexpected{Error{"more than " + std::to_string(engine::kMaxServices) + " services"}};
  }
  if (auto ok = engine::Engine::check(cfg); !ok) {
    return Unexpected{ok.error()};
  }
  return loaded;
}

std::vector<std::string> keepRunning(RunOptions& next, const RunOptions& running) {
  std::vector<std::string> kept;
  for (const KeptSetting& k : kKeptOnReload) {
    if (k.changed(next, running)) {
      kept.emplace_back(k.what);
    }
    k.keep(next, running);
  }
  for (const char* what : engine::Engine::keepOnReload(next.engine, running.engine)) {
    kept.emplace_back(what);
  }
  return kept;
}

Result<void> publishToWorkers(const engine::EngineConfig& cfg, ReloadSlot& reload,
                              const std::vector<std::unique_ptr<Worker>>& workers) {
  {
    const std::lock_guard<std::mutex> lock(reload.mutex);
    reload.config = std::make_shared<const engine::EngineConfig>(cfg);
    reload.generation.fetch_add(1, std::memory_order_release);
  }
  const std::uint64_t gen = reload.generation.load();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (const auto& w : workers) {
    while (w->applied_generation.load(std::memory_order_acquire) != gen) {
      if (std::chrono::steady_clock::now() > deadline) {
        return Unexpected{Error{"queue " + std::to_string(w->queue) + " did not take it"}};
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    const std::lock_guard<std::mutex> lock(w->mutex);
    if (!w->reload_error.empty()) {
      return Unexpected{Error{w->reload_error}};
    }
  }
  return {};
}

}  // namespace synguard::daemon
