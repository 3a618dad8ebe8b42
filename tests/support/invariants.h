#pragma once

#include <string>

#include "engine/engine.h"

namespace synguard::testing {

/// Recounts the engine's table and compares with every counter it keeps incrementally: the
/// half-open flag of each connection against its state, the global, per service-address and
/// per source-prefix half-open counts, the configured services' half-open counts, the
/// per-state gauges, and the proxied connections against the proxy table. Empty when all
/// agree, else what differs. For unit tests and the engine fuzzer.
std::string engineInvariantProblems(const engine::Engine& e);

}  // namespace synguard::testing
