#pragma once

#include <memory>
#include <string>
#include <vector>

#include "daemon/inline/run.h"
#include "daemon/inline/worker.h"
#include "engine/engine.h"

namespace synguard::daemon {

/// SIGHUP's configuration: read again through `running.reload` and checked whole (the engine's
/// configuration as the engines will take it). Nothing is applied yet.
Result<RunOptions> loadReloaded(const RunOptions& running);

/// Sets every setting a reload cannot change back to its running value in `next`, and returns
/// the names of those the new configuration tried to change (they need a restart). This table
/// is the one description of what a reload keeps: what sizes memory allocated at start, what
/// the connections already depend on (the cookie layout), and what the process was set up with
/// (queues, rules table, key file, user, metrics socket).
std::vector<std::string> keepRunning(RunOptions& next, const RunOptions& running);

/// Hands `cfg` to every worker and waits (at most 2 s) until each has taken it between two
/// batches. An error names the first worker that failed or did not answer.
Result<void> publishToWorkers(const engine::EngineConfig& cfg, ReloadSlot& reload,
                              const std::vector<std::unique_ptr<Worker>>& workers);

}  // namespace synguard::daemon
