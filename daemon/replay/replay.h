#pragma once

#include <cstddef>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace synguard::replay {

/// Sees the engine after every packet of a replay (`synguard tune` samples it once a second).
class ReplayHook {
 public:
  virtual ~ReplayHook() = default;
  /// After the engine processed the IP packet `ip` stamped `ts` (Unix seconds).
  virtual void afterPacket(engine::Engine& eng, std::span<const std::byte> ip, double ts) = 0;
  /// After the last capture, before what is still open is flushed.
  virtual void beforeFlush(engine::Engine& eng) = 0;
};

struct ReplayOptions {
  std::vector<std::string> captures;
  std::string conn_log;  ///< empty: no connection log
  bool json = false;
  bool progress = false;  ///< a progress line on stderr (callers set it when stderr is a tty)
  std::size_t top_n = 10;
  /// Conclude unanswered attempts after 5 s in the connection log, as Zeek does.
  bool attempt_timeout = true;
  engine::EngineConfig engine;
  ReplayHook* hook = nullptr;  ///< not owned; nullptr: none
};

/// Replays captures through one engine with the packets' own timestamps, writes the connection
/// log, and prints the summary to `out`. Problems go to `err`. Returns the process exit code:
/// 0 on success (a capture cut off mid-record keeps what came before and warns), 2 when a file
/// cannot be read as a capture or the log cannot be written.
int runReplay(const ReplayOptions& opts, std::ostream& out, std::ostream& err);

}  // namespace synguard::replay
