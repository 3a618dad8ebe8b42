#include "daemon/replay/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <span>
#include <sstream>
#include <string_view>

namespace synguard::replay {

namespace {

std::string jsonEscape(const std::string& s) {
  std::string out;
  out.reserve(s.size() + 2);
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  return out;
}

std::string q(const std::string& s) { return "\"" + jsonEscape(s) + "\""; }

std::string num(double v) {
  if (!std::isfinite(v)) {
    return "0";
  }
  std::ostringstream os;
  os << std::setprecision(15) << v;
  return os.str();
}

template <typename Map>
std::string jsonMap(const Map& m) {
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : m) {
    out += (first ? "" : ", ") + q(k) + ": " + std::to_string(v);
    first = false;
  }
  return out + "}";
}

/// Counters indexed by an enum, as name -> count for the non-zero ones.
template <typename Enum, std::size_t N>
std::map<std::string, std::uint64_t> byName(const std::array<std::uint64_t, N>& counters) {
  std::map<std::string, std::uint64_t> m;
  for (std::size_t i = 0; i < N; ++i) {
    if (counters[i] != 0) {
      m[std::string(engine::toString(static_cast<Enum>(i)))] = counters[i];
    }
  }
  return m;
}

std::map<std::string, std::uint64_t> parseErrors(const engine::EngineStats& st) {
  return byName<engine::ParseError>(st.parse_errors);
}

std::map<std::string, std::uint64_t> invalidReasons(const engine::EngineStats& st) {
  return byName<engine::InvalidReason>(st.invalid);
}

/// A described array counter's non-zero values, in index order, with their index names
/// (indexes without a name, such as a `none` slot, are skipped).
template <typename Fn>
void forEachNamedIndex(const engine::CounterInfo& c, std::span<const std::uint64_t> v, Fn&& fn) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (const std::string_view name = c.index_name(i); !name.empty() && v[i] != 0) {
      fn(name, v[i]);
    }
  }
}

/// One described engine counter's values by name (engine/stats.h, forEachCounter): a single
/// figure under its field name, an array's non-zero values under "field.index".
template <typename Fn>
void forEachNamedValue(const engine::CounterInfo& c, std::span<const std::uint64_t> v, Fn&& fn) {
  if (c.index_name == nullptr) {
    fn(std::string(c.field), v[0]);
    return;
  }
  forEachNamedIndex(c, v, [&](std::string_view name, std::uint64_t n) {
    fn(std::string(c.field) + "." + std::string(name), n);
  });
}

/// The fields the human report's own sections show (verdicts, parse errors, invalid segments,
/// connections, table): "other engine counters" lists the rest, so a new counter shows there.
bool shownAbove(std::string_view field) {
  for (const std::string_view f :
       {"packets", "tcp_segments", "accepted", "dropped", "parse_errors", "invalid",
        "rst_in_window", "syn_on_synchronized", "connections_picked_up", "connections_reopened",
        "connections_ended", "table_full", "table_peak", "emergency_entered"}) {
    if (f == field) {
      return true;
    }
  }
  return false;
}

std::string fmtTs(double ts) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", ts);
  return buf;
}

std::string rowName(const CounterRow& r, bool with_port) {
  if (!with_port) {
    return r.address;
  }
  if (r.address.find(':') != std::string::npos) {
    return "[" + r.address + "]:" + std::to_string(r.port);
  }
  return r.address + ":" + std::to_string(r.port);
}

void printRows(std::ostream& os, const char* title, const std::vector<CounterRow>& rows,
               bool with_port) {
  if (rows.empty()) {
    return;
  }
  os << title << "\n";
  os << "  " << std::left << std::setw(44) << (with_port ? "service" : "source prefix")
     << std::right << std::setw(12) << "half-open" << std::setw(12) << "peak" << std::setw(12)
     << "SYNs" << std::setw(14) << "peak SYN/s"
     << "\n";
  for (const auto& r : rows) {
    os << "  " << std::left << std::setw(44) << rowName(r, with_port) << std::right << std::setw(12)
       << r.half_open_now << std::setw(12) << r.half_open_peak << std::setw(12) << r.syns
       << std::setw(14) << std::fixed << std::setprecision(0) << r.syn_rate_peak << "\n";
  }
}

std::vector<CounterRow> topRows(engine::CounterTable& t, std::size_t n, bool sources,
                                const engine::HalfOpenAccounting& ho) {
  std::vector<CounterRow> rows;
  t.forEach([&](std::uint32_t idx, const engine::CounterEntry& e) {
    if (e.syns == 0 && e.peak_half_open == 0) {
      return;
    }
    CounterRow r;
    if (idx == engine::CounterTable::kOverflow) {
      r.address = "(overflow)";
    } else if (sources) {
      r.address = e.addr.toString() + "/" + std::to_string(ho.sourcePrefixLength(e.addr));
    } else {
      r.address = e.addr.toString();
    }
    r.port = e.port;
    r.half_open_peak = e.peak_half_open;
    r.half_open_now = e.half_open;
    r.syns = e.syns;
    r.syn_rate_peak = e.syn_rate.peak();
    rows.push_back(std::move(r));
  });
  std::sort(rows.begin(), rows.end(), [](const CounterRow& a, const CounterRow& b) {
    if (a.half_open_peak != b.half_open_peak) {
      return a.half_open_peak > b.half_open_peak;
    }
    if (a.syns != b.syns) {
      return a.syns > b.syns;
    }
    return a.address < b.address;
  });
  if (rows.size() > n) {
    rows.resize(n);
  }
  return rows;
}

}  // namespace

void collectTop(engine::Engine& eng, std::size_t n, ReplaySummary& out) {
  auto& ho = eng.halfOpen();
  out.top_services = topRows(ho.services(), n, false, ho);
  out.top_sources = topRows(ho.sources(), n, true, ho);
}

namespace {

void humanCaptures(const ReplaySummary& s, std::ostream& os) {
  os << "synguard replay\n";
  for (const auto& c : s.captures) {
    os << "  capture " << c.file << " (" << c.link_type << "): " << c.frames << " frames, "
       << c.ip_packets << " IP packets";
    if (c.skipped_not_ip + c.skipped_truncated_link > 0) {
      os << ", skipped " << c.skipped_not_ip << " non-IP, " << c.skipped_truncated_link
         << " truncated";
    }
    if (!c.link_supported) {
      os << " — link type not supported, file skipped";
    }
    if (!c.error.empty()) {
      os << "\n    stopped early: " << c.error;
    }
    os << "\n";
  }
}

/// Packets, verdicts and what the engine found wrong with them.
void humanPackets(const ReplaySummary& s, std::ostream& os) {
  const auto& st = s.stats;
  const double span = s.last_ts > s.first_ts ? s.last_ts - s.first_ts : 0;
  os << "\npackets: " << st.packets << " (" << st.tcp_segments << " TCP) over " << std::fixed
     << std::setprecision(3) << span << " s of capture time, processed in " << s.wall_seconds
     << " s";
  if (s.wall_seconds > 0) {
    os << " (" << std::setprecision(0) << static_cast<double>(st.packets) / s.wall_seconds
       << " packets/s)";
  }
  os << "\n";
  os << "verdicts:\n";
  for (const auto& [k, v] : byName<engine::VerdictReason>(st.accepted)) {
    os << "  accept  " << std::left << std::setw(20) << k << std::right << v << "\n";
  }
  for (const auto& [k, v] : byName<engine::VerdictReason>(st.dropped)) {
    os << "  drop    " << std::left << std::setw(20) << k << std::right << v << "\n";
  }
  if (const auto pe = parseErrors(st); !pe.empty()) {
    os << "parse errors / untracked:\n";
    for (const auto& [k, v] : pe) {
      os << "  " << std::left << std::setw(28) << k << std::right << v << "\n";
    }
  }
  if (const auto inv = invalidReasons(st); !inv.empty()) {
    os << "invalid segments:\n";
    for (const auto& [k, v] : inv) {
      os << "  " << std::left << std::setw(28) << k << std::right << v << "\n";
    }
  }
  if (st.rst_in_window + st.syn_on_synchronized > 0) {
    os << "suspicious: " << st.rst_in_window << " in-window RSTs, " << st.syn_on_synchronized
       << " SYNs on synchronized connections\n";
  }
}

/// Connections, half-open and the table.
void humanConnections(const ReplaySummary& s, std::ostream& os) {
  const auto& st = s.stats;
  os << "\nconnections: " << s.connections_total << " (" << st.connections_picked_up
     << " picked up mid-stream, " << st.connections_reopened << " reopened, "
     << st.connections_ended[static_cast<std::size_t>(engine::EndCause::kEvicted)] << " evicted, "
     << st.table_full << " untracked for a full table)\n";
  os << "  by outcome:";
  for (const auto& [k, v] : s.by_outcome) {
    os << "  " << k << " " << v;
  }
  os << "\n  by final state:";
  for (const auto& [k, v] : s.by_state) {
    os << "  " << k << " " << v;
  }
  os << "\n\nhalf-open: peak " << s.half_open_peak;
  if (s.half_open_peak > 0) {
    os << " at " << fmtTs(s.half_open_peak_ts);
  }
  os << ", " << s.half_open_end << " at the end of the capture; SYNs " << s.syns
     << ", peak SYN rate " << std::setprecision(0) << s.syn_rate_peak << "/s\n";
  os << "table: capacity " << s.table_capacity << ", peak " << st.table_peak << " entries"
     << (st.emergency_entered > 0 ? ", emergency mode entered " : "")
     << (st.emergency_entered > 0 ? std::to_string(st.emergency_entered) + " times" : "") << "\n\n";
}

void humanServices(const ReplaySummary& s, std::ostream& os) {
  printRows(os, "top services by half-open:", s.top_services, true);
  printRows(os, "top source prefixes by half-open:", s.top_sources, false);
  if (!s.services.empty()) {
    os << "protected services (monitor mode: nothing was dropped):\n";
    for (const auto& r : s.services) {
      os << "  " << r.name << ": SYNs " << r.syns << ", half-open peak " << r.half_open_peak
         << ", mode changes " << r.mode_changes << ", would cookie " << r.would_cookie
         << ", would drop " << r.would_drop << ", mode at the end " << r.mode << "\n";
    }
    for (const auto& m : s.mode_changes) {
      os << "  " << fmtTs(m.ts) << "  " << m.service << ": " << m.from << " -> " << m.to
         << " (half-open " << m.half_open << ", SYN rate " << std::setprecision(0) << m.syn_rate
         << "/s)\n";
    }
  }
}

void humanOtherCounters(const ReplaySummary& s, std::ostream& os) {
  const auto& st = s.stats;
  // Every other described engine counter that is not zero, without a line of its own here.
  std::ostringstream other;
  engine::forEachCounter(
      st, [&other](const engine::CounterInfo& c, std::span<const std::uint64_t> v) {
        if (shownAbove(c.field)) {
          return;
        }
        forEachNamedValue(c, v, [&other](const std::string& name, std::uint64_t n) {
          if (n != 0) {
            other << "  " << std::left << std::setw(44) << name << std::right << n << "\n";
          }
        });
      });
  if (!other.str().empty()) {
    os << "other engine counters:\n" << other.str();
  }
}

void jsonCaptures(const ReplaySummary& s, std::ostream& os) {
  os << "{\n  \"captures\": [";
  for (std::size_t i = 0; i < s.captures.size(); ++i) {
    const auto& c = s.captures[i];
    os << (i == 0 ? "" : ",") << "\n    {\"file\": " << q(c.file)
       << ", \"link_type\": " << q(c.link_type)
       << ", \"link_supported\": " << (c.link_supported ? "true" : "false")
       << ", \"frames\": " << c.frames << ", \"ip_packets\": " << c.ip_packets
       << ", \"skipped_not_ip\": " << c.skipped_not_ip
       << ", \"skipped_truncated_link\": " << c.skipped_truncated_link
       << ", \"error\": " << (c.error.empty() ? "null" : q(c.error)) << "}";
  }
  os << "\n  ],\n";
}

/// Packets, verdicts, invalid and suspicious segments.
void jsonTraffic(const ReplaySummary& s, std::ostream& os) {
  const auto& st = s.stats;
  os << "  \"packets\": {\"total\": " << st.packets << ", \"tcp\": " << st.tcp_segments
     << ", \"bytes\": " << st.bytes << ", \"parse_errors\": " << jsonMap(parseErrors(st))
     << ", \"snaplen_truncated\": " << st.snaplen_truncated << "},\n";
  os << "  \"verdicts\": {\"accept\": " << jsonMap(byName<engine::VerdictReason>(st.accepted))
     << ", \"drop\": " << jsonMap(byName<engine::VerdictReason>(st.dropped)) << "},\n";
  os << "  \"invalid\": " << jsonMap(invalidReasons(st)) << ",\n";
  os << "  \"suspicious\": {\"rst_in_window\": " << st.rst_in_window
     << ", \"syn_on_synchronized\": " << st.syn_on_synchronized << "},\n";
}

/// Connections, half-open and the table.
void jsonConnections(const ReplaySummary& s, std::ostream& os) {
  const auto& st = s.stats;
  std::map<std::string, std::uint64_t> ends;
  for (std::size_t i = 0; i < st.connections_ended.size(); ++i) {
    ends[std::string(engine::toString(static_cast<engine::EndCause>(i)))] = st.connections_ended[i];
  }
  os << "  \"connections\": {\"total\": " << s.connections_total
     << ", \"picked_up\": " << st.connections_picked_up
     << ", \"reopened\": " << st.connections_reopened
     << ", \"handshakes_completed\": " << st.handshakes_completed
     << ", \"untracked_table_full\": " << st.table_full << ", \"ended\": " << jsonMap(ends)
     << ", \"by_outcome\": " << jsonMap(s.by_outcome) << ", \"by_state\": " << jsonMap(s.by_state)
     << "},\n";
  os << "  \"half_open\": {\"peak\": " << s.half_open_peak
     << ", \"peak_ts\": " << fmtTs(s.half_open_peak_ts) << ", \"current\": " << s.half_open_end
     << ", \"syns\": " << s.syns << ", \"syn_rate_peak\": " << num(s.syn_rate_peak) << "},\n";
  os << "  \"table\": {\"capacity\": " << s.table_capacity << ", \"peak\": " << st.table_peak
     << ", \"evicted\": "
     << st.connections_ended[static_cast<std::size_t>(engine::EndCause::kEvicted)]
     << ", \"emergency_entered\": " << st.emergency_entered << "},\n";
}

void jsonRows(std::ostream& os, const char* name, const std::vector<CounterRow>& v, bool svc,
              bool last) {
  os << "  \"" << name << "\": [";
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto& r = v[i];
    os << (i == 0 ? "" : ",") << "\n    {" << (svc ? "\"address\": " : "\"prefix\": ")
       << q(r.address);
    if (svc) {
      os << ", \"port\": " << r.port;
    }
    os << ", \"half_open_peak\": " << r.half_open_peak << ", \"half_open\": " << r.half_open_now
       << ", \"syns\": " << r.syns << ", \"syn_rate_peak\": " << num(r.syn_rate_peak) << "}";
  }
  os << "\n  ]" << (last ? "\n" : ",\n");
}

void jsonServices(const ReplaySummary& s, std::ostream& os) {
  os << "  \"protected_services\": [";
  for (std::size_t i = 0; i < s.services.size(); ++i) {
    const auto& r = s.services[i];
    os << (i == 0 ? "" : ",") << "\n    {\"name\": " << q(r.name) << ", \"mode\": " << q(r.mode)
       << ", \"syns\": " << r.syns << ", \"half_open_peak\": " << r.half_open_peak
       << ", \"mode_changes\": " << r.mode_changes << ", \"would_cookie\": " << r.would_cookie
       << ", \"would_drop\": " << r.would_drop << "}";
  }
  os << "\n  ],\n  \"mode_changes\": [";
  for (std::size_t i = 0; i < s.mode_changes.size(); ++i) {
    const auto& m = s.mode_changes[i];
    os << (i == 0 ? "" : ",") << "\n    {\"service\": " << q(m.service)
       << ", \"ts\": " << fmtTs(m.ts) << ", \"from\": " << q(m.from) << ", \"to\": " << q(m.to)
       << ", \"half_open\": " << m.half_open << ", \"syn_rate\": " << num(m.syn_rate) << "}";
  }
  os << "\n  ],\n";
}

void jsonEngineCounters(const engine::EngineStats& st, std::ostream& os) {
  // Every described engine counter (engine/stats.h, forEachCounter), by its field name: a
  // single figure as a number, an array as its non-zero values by name. Last, so the sections
  // above keep their keys' first occurrence.
  os << "  \"engine\": {";
  bool first = true;
  engine::forEachCounter(st, [&](const engine::CounterInfo& c, std::span<const std::uint64_t> v) {
    os << (first ? "" : ", ") << q(std::string(c.field)) << ": ";
    first = false;
    if (c.index_name == nullptr) {
      os << v[0];
      return;
    }
    std::map<std::string, std::uint64_t> m;
    forEachNamedIndex(c, v,
                      [&m](std::string_view name, std::uint64_t n) { m[std::string(name)] = n; });
    os << jsonMap(m);
  });
}

}  // namespace

void printHuman(const ReplaySummary& s, std::ostream& os) {
  humanCaptures(s, os);
  humanPackets(s, os);
  humanConnections(s, os);
  humanServices(s, os);
  humanOtherCounters(s, os);
}

void printJson(const ReplaySummary& s, std::ostream& os) {
  jsonCaptures(s, os);
  jsonTraffic(s, os);
  jsonConnections(s, os);
  jsonRows(os, "top_services", s.top_services, true, false);
  jsonRows(os, "top_sources", s.top_sources, false, false);
  jsonServices(s, os);
  os << "  \"time\": {\"first_ts\": " << fmtTs(s.first_ts) << ", \"last_ts\": " << fmtTs(s.last_ts)
     << ", \"wall_seconds\": " << num(s.wall_seconds) << "},\n";
  jsonEngineCounters(s.stats, os);
  os << "}\n}\n";
}

}  // namespace synguard::replay
