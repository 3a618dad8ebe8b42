#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace synguard::replay {

/// What one capture file contributed.
struct CaptureSummary {
  std::string file;
  std::string link_type;
  bool link_supported = true;
  std::uint64_t frames = 0;
  std::uint64_t ip_packets = 0;
  std::uint64_t skipped_not_ip = 0;
  std::uint64_t skipped_truncated_link = 0;
  std::string error;  ///< set when reading stopped early (truncated or corrupt file)
};

struct CounterRow {
  std::string address;  ///< service address, or source prefix "a.b.c.0/24"
  std::uint16_t port = 0;
  std::uint32_t half_open_peak = 0;
  std::uint32_t half_open_now = 0;
  std::uint64_t syns = 0;
  double syn_rate_peak = 0;
};

/// A mode transition of a protected service (replay runs them in monitor mode).
struct ModeChangeRow {
  std::string service;
  double ts = 0;  ///< capture time
  std::string from;
  std::string to;
  std::uint32_t half_open = 0;
  double syn_rate = 0;
};

/// A protected service (`--protect`) at the end of the replay.
struct ServiceRow {
  std::string name;
  std::string mode;  ///< at the end
  std::uint64_t syns = 0;
  std::uint32_t half_open_peak = 0;
  std::uint64_t mode_changes = 0;
  std::uint64_t would_cookie = 0;
  std::uint64_t would_drop = 0;
};

/// Everything `synguard replay` reports, filled from the engine and the capture readers.
struct ReplaySummary {
  std::vector<CaptureSummary> captures;
  engine::EngineStats stats;
  std::uint64_t connections_total = 0;
  std::map<std::string, std::uint64_t> by_outcome;  ///< Zeek conn_state codes
  std::map<std::string, std::uint64_t> by_state;    ///< tracker's final state
  std::map<std::string, std::uint64_t> by_end_cause;
  std::uint64_t half_open_peak = 0;
  double half_open_peak_ts = 0;  ///< seconds since the Unix epoch (capture time)
  std::uint64_t half_open_end = 0;
  std::uint64_t syns = 0;
  double syn_rate_peak = 0;
  std::size_t table_capacity = 0;
  double first_ts = 0;
  double last_ts = 0;
  double wall_seconds = 0;
  std::vector<CounterRow> top_services;
  std::vector<CounterRow> top_sources;
  std::vector<ServiceRow> services;
  std::vector<ModeChangeRow> mode_changes;
};

/// Fills the top-N service and source rows from the engine's half-open tables.
void collectTop(engine::Engine& eng, std::size_t n, ReplaySummary& out);

void printHuman(const ReplaySummary& s, std::ostream& os);
void printJson(const ReplaySummary& s, std::ostream& os);

}  // namespace synguard::replay
