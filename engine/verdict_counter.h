#pragma once

#include <cstddef>

#include "engine/stats.h"
#include "engine/verdict.h"

namespace synguard::engine {

/// Counts a packet's verdict under its action and reason. The stages return verdicts without
/// counting them (a proxied segment is also tracked, and only the proxy's verdict is the
/// packet's); the pipeline counts each packet's verdict here, once.
inline Verdict countVerdict(EngineStats& stats, Verdict v) noexcept {
  auto& counts = v.action == Action::kAccept ? stats.accepted : stats.dropped;
  ++counts[static_cast<std::size_t>(v.reason)];
  return v;
}

}  // namespace synguard::engine
