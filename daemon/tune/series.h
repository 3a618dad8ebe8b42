#pragma once
// What `synguard tune` learns from: per service, a time series of what its traffic did, from
// captures (the replay engine, one sample per second) or from a Prometheus server's history of
// synguard's own metrics (one sample per query step). Both sources fill the same structure; the
// analysis (contamination filter, statistics, suggestion) never knows where it came from.
#include <cstdint>
#include <string>
#include <vector>

namespace synguard::tune {

/// One window of one service's traffic.
struct Sample {
  double t = 0;              ///< window start, Unix seconds
  double width = 1;          ///< window length in seconds
  double half_open = 0;      ///< half-open connections (the gauge's value, or the window's peak)
  double syn_rate = 0;       ///< SYNs per second to the service over the window
  double syns = 0;           ///< SYNs in the window (syn_rate * width for a counter source)
  double completed = -1;     ///< handshakes completed in the window; < 0: not known
  bool cookie_mode = false;  ///< the service was in cookie mode during (part of) the window
};

/// Peak load one source prefix put on a service (captures only: Prometheus has no per-source
/// series, by design, to keep cardinality bounded).
struct SourceLoad {
  std::string prefix;         ///< e.g. "192.0.2.0/24"
  double peak_half_open = 0;  ///< its highest half-open count
  double peak_syn_rate = 0;   ///< its highest SYNs per second (1 s windows)
};

struct ServiceSeries {
  std::string service;              ///< the service's name in the config
  std::vector<Sample> samples;      ///< in time order
  std::vector<SourceLoad> sources;  ///< may be empty
};

/// Where the history came from, for the report.
struct History {
  std::string origin;  ///< "captures: a.pcap, b.pcap" or "prometheus: URL, 14d at 60s"
  std::vector<ServiceSeries> services;
};

}  // namespace synguard::tune
