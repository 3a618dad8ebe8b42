// The YAML configuration: parse with yaml-cpp, then walk the document against the schema,
// collecting every problem with its location (YAML::Exception is caught here and only here).
#include "config/loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <utility>

#include "engine/protection.h"

namespace synguard::config {

std::string Diagnostic::toString() const {
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

DaemonConfig defaultConfig() {
  // Without a file the daemon still protects: every forwarded TCP destination, adaptive, with
  // the engine's default thresholds. A file's `services:` replaces this catch-all.
  DaemonConfig c;
  engine::ServiceConfig all;
  all.name = "all";
  (void)all.addresses.add("0.0.0.0/0");
  (void)all.addresses.add("::/0");
  all.ports.push_back({1, 65535});
  c.engine.protection.services.push_back(std::move(all));
  return c;
}

std::optional<std::chrono::milliseconds> parseDuration(std::string_view text) {
  std::size_t i = 0;
  std::uint64_t n = 0;
  bool digits = false;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    n = n * 10 + static_cast<std::uint64_t>(text[i] - '0');
    digits = true;
    if (n > (std::uint64_t{1} << 40)) {
      return std::nullopt;
    }
    ++i;
  }
  if (!digits) {
    return std::nullopt;
  }
  const std::string_view unit = text.substr(i);
  std::uint64_t ms_per = 0;
  if (unit == "ms") {
    ms_per = 1;
  } else if (unit.empty() || unit == "s") {
    ms_per = 1000;
  } else if (unit == "m") {
    ms_per = 60'000;
  } else if (unit == "h") {
    ms_per = 3'600'000;
  } else if (unit == "d") {
    ms_per = 86'400'000;
  } else {
    return std::nullopt;
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(n * ms_per));
}

namespace {

std::size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1);
  std::vector<std::size_t> cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    prev[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      cur[j] =
          std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

/// Walks one document. Every check that fails adds a diagnostic and leaves the default in place,
/// so one pass reports every problem.
class Checker {
 public:
  explicit Checker(std::string file) : file_(std::move(file)) {}

  void error(const YAML::Node& at, const std::string& msg) {
    const YAML::Mark m = at.Mark();
    errors_.push_back({file_, m.line + 1, m.column + 1, msg});
  }
  void errorAt(const YAML::Mark& m, const std::string& msg) {
    errors_.push_back({file_, m.line + 1, m.column + 1, msg});
  }
  std::vector<Diagnostic>& errors() { return errors_; }

  /// The node must be a map with only `known` keys. False if it is not a map.
  bool map(const YAML::Node& n, const std::string& path, std::initializer_list<const char*> known) {
    if (!n.IsMap()) {
      error(n, (path.empty() ? std::string("the configuration") : path) +
                   ": expected a map of keys, got " + kind(n));
      return false;
    }
    std::set<std::string> seen;
    for (const auto& kv : n) {
      const std::string key = kv.first.Scalar();
      if (!seen.insert(key).second) {
        errorAt(kv.first.Mark(), join(path, key) + ": duplicate key");
      }
      if (std::find_if(known.begin(), known.end(), [&](const char* k) { return key == k; }) !=
          known.end()) {
        continue;
      }
      std::string best;
      std::size_t best_d = 3;
      for (const char* k : known) {
        const std::size_t d = editDistance(key, k);
        if (d < best_d) {
          best_d = d;
          best = k;
        }
      }
      errorAt(kv.first.Mark(), "unknown key '" + join(path, key) + "'" +
                                   (best.empty() ? "" : " (did you mean '" + best + "'?)"));
    }
    return true;
  }

  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }
  static std::string kind(const YAML::Node& n) {
    switch (n.Type()) {
      case YAML::NodeType::Null:
        return "nothing";
      case YAML::NodeType::Scalar:
        return "'" + n.Scalar() + "'";
      case YAML::NodeType::Sequence:
        return "a list";
      case YAML::NodeType::Map:
        return "a map";
      case YAML::NodeType::Undefined:
        break;
    }
    return "nothing";
  }

  bool scalar(const YAML::Node& n, const std::string& path, const char* what) {
    if (!n.IsScalar()) {
      error(n, path + ": expected " + what + ", got " + kind(n));
      return false;
    }
    return true;
  }

  void boolean(const YAML::Node& n, const std::string& path, bool& out) {
    if (!scalar(n, path, "true or false")) {
      return;
    }
    const std::string& s = n.Scalar();
    if (s == "true" || s == "yes" || s == "on") {
      out = true;
    } else if (s == "false" || s == "no" || s == "off") {
      out = false;
    } else {
      error(n, path + ": expected true or false, got '" + s + "'");
    }
  }

  template <typename T>
  void integer(const YAML::Node& n, const std::string& path, std::uint64_t min, std::uint64_t max,
               T& out) {
    if (!scalar(n, path, "a number")) {
      return;
    }
    const std::string& s = n.Scalar();
    std::uint64_t v = 0;
    bool ok = !s.empty() && s.size() <= 19;
    for (const char c : s) {
      ok = ok && c >= '0' && c <= '9';
      if (ok) {
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
      }
    }
    if (!ok) {
      error(n, path + ": expected a whole number, got '" + s + "'");
      return;
    }
    if (v < min || v > max) {
      error(n, path + ": " + s + " is out of range (" + std::to_string(min) + "-" +
                   std::to_string(max) + ")");
      return;
    }
    out = static_cast<T>(v);
  }

  void real(const YAML::Node& n, const std::string& path, double min, double max, double& out) {
    if (!scalar(n, path, "a number")) {
      return;
    }
    const std::string& s = n.Scalar();
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (s.empty() || end == nullptr || *end != '\0' || !std::isfinite(v)) {
      error(n, path + ": expected a number, got '" + s + "'");
      return;
    }
    if (v < min || v > max) {
      std::ostringstream os;
      os << path << ": " << s << " is out of range (" << min << "-" << max << ")";
      error(n, os.str());
      return;
    }
    out = v;
  }

  void string(const YAML::Node& n, const std::string& path, std::string& out) {
    if (scalar(n, path, "a string")) {
      out = n.Scalar();
    }
  }

  template <typename Duration>
  void duration(const YAML::Node& n, const std::string& path, std::chrono::milliseconds min,
                std::chrono::milliseconds max, Duration& out) {
    if (!scalar(n, path, "a duration")) {
      return;
    }
    const auto d = parseDuration(n.Scalar());
    if (!d) {
      error(n,
            path + ": expected a duration like 500ms, 30s, 2m, 1h or 5d, got '" + n.Scalar() + "'");
      return;
    }
    if (*d < min || *d > max) {
      error(n, path + ": " + n.Scalar() + " is out of range (" + std::to_string(min.count()) +
                   " ms to " + std::to_string(max.count() / 1000) + " s)");
      return;
    }
    if (std::chrono::duration_cast<Duration>(*d) != *d) {
      error(n, path + ": " + n.Scalar() + " is not a whole number of " +
                   (std::is_same_v<Duration, std::chrono::seconds> ? "seconds" : "units"));
      return;
    }
    out = std::chrono::duration_cast<Duration>(*d);
  }

  void prefixes(const YAML::Node& n, const std::string& path, engine::PrefixSet& out) {
    if (!n.IsSequence()) {
      error(n, path + ": expected a list of addresses or prefixes, got " + kind(n));
      return;
    }
    for (std::size_t i = 0; i < n.size(); ++i) {
      const std::string p = path + "[" + std::to_string(i) + "]";
      if (!scalar(n[i], p, "an address or prefix")) {
        continue;
      }
      if (auto r = out.add(n[i].Scalar()); !r) {
        error(n[i], p + ": " + r.error().message);
      }
    }
  }

  void mssTable(const YAML::Node& n, const std::string& path, engine::MssTable& out) {
    if (!n.IsSequence() || n.size() == 0 || n.size() > 8) {
      error(n, path + ": expected a list of 1 to 8 MSS values");
      return;
    }
    engine::MssTable t;
    for (std::size_t i = 0; i < n.size(); ++i) {
      std::uint16_t v = 0;
      const std::size_t before = errors_.size();
      integer(n[i], path + "[" + std::to_string(i) + "]", 64, 65535, v);
      if (errors_.size() != before) {
        return;
      }
      if (i > 0 && v <= t.values[i - 1]) {
        error(n[i], path + ": values must be in ascending order");
        return;
      }
      t.values[i] = v;
      t.size = static_cast<std::uint8_t>(i + 1);
    }
    out = t;
  }

  void timeouts(const YAML::Node& n, const std::string& path, engine::Timeouts& t) {
    if (!map(n, path,
             {"syn_sent", "syn_received", "established", "fin_wait", "close_wait", "closing",
              "last_ack", "time_wait", "closed"})) {
      return;
    }
    const auto lo = std::chrono::milliseconds(1);
    const auto hi = std::chrono::hours(24 * 20);  // the engine's ticks: under 2^31 ms
    const std::pair<const char*, std::chrono::milliseconds*> fields[] = {
        {"syn_sent", &t.syn_sent},
        {"syn_received", &t.syn_received},
        {"established", &t.established},
        {"fin_wait", &t.fin_wait},
        {"close_wait", &t.close_wait},
        {"closing", &t.closing},
        {"last_ack", &t.last_ack},
        {"time_wait", &t.time_wait},
        {"closed", &t.closed}};
    for (const auto& [key, field] : fields) {
      if (n[key]) {
        duration(n[key], join(path, key), lo, hi, *field);
      }
    }
  }

  void thresholdPair(const YAML::Node& n, const std::string& path, double& on, double& off) {
    if (!map(n, path, {"on", "off"})) {
      return;
    }
    if (n["on"]) {
      real(n["on"], path + ".on", 0, 1e12, on);
    }
    if (n["off"]) {
      real(n["off"], path + ".off", 0, 1e12, off);
    }
    if (!(off < on)) {
      std::ostringstream os;
      os << path << ": off (" << off << ") must be below on (" << on << ")";
      error(n, os.str());
    }
  }

  void service(const YAML::Node& n, const std::string& path, engine::ServiceConfig& s) {
    if (!map(n, path,
             {"name", "addresses", "ports", "mode", "monitor", "half_open", "syn_rate", "hold",
              "per_source", "mss", "wscale"})) {
      return;
    }
    if (!n["name"]) {
      error(n, path + ": a service needs a name");
    } else {
      string(n["name"], path + ".name", s.name);
      const bool good = !s.name.empty() && std::all_of(s.name.begin(), s.name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-' || c == '.';
      });
      if (!good) {
        error(n["name"], path + ".name: use letters, digits, '_', '-' and '.'");
      }
    }
    if (!n["addresses"]) {
      error(n, path + ": a service needs addresses");
    } else {
      prefixes(n["addresses"], path + ".addresses", s.addresses);
      if (n["addresses"].IsSequence() && n["addresses"].size() == 0) {
        error(n["addresses"], path + ".addresses: empty");
      }
    }
    if (!n["ports"]) {
      error(n, path + ": a service needs ports");
    } else if (!n["ports"].IsSequence() || n["ports"].size() == 0) {
      error(n["ports"], path + ".ports: expected a list of ports or ranges like 8000-8100");
    } else {
      for (std::size_t i = 0; i < n["ports"].size(); ++i) {
        const YAML::Node p = n["ports"][i];
        const std::string pp = path + ".ports[" + std::to_string(i) + "]";
        if (!scalar(p, pp, "a port or a range")) {
          continue;
        }
        const std::string& t = p.Scalar();
        const auto dash = t.find('-');
        std::uint64_t a = 0;
        std::uint64_t b = 0;
        const auto num = [](const std::string& x, std::uint64_t& v) {
          if (x.empty() || x.size() > 5) {
            return false;
          }
          v = 0;
          for (const char c : x) {
            if (c < '0' || c > '9') {
              return false;
            }
            v = v * 10 + static_cast<std::uint64_t>(c - '0');
          }
          return true;
        };
        const bool ok = dash == std::string::npos
                            ? num(t, a) && (b = a, true)
                            : num(t.substr(0, dash), a) && num(t.substr(dash + 1), b);
        if (!ok) {
          error(p, pp + ": expected a port or a range like 8000-8100, got '" + t + "'");
        } else if (a < 1 || a > 65535 || b < 1 || b > 65535) {
          error(p, pp + ": " + t + " is not a port (1-65535)");
        } else if (b < a) {
          error(p, pp + ": range " + t + " ends before it starts");
        } else {
          s.ports.push_back({static_cast<std::uint16_t>(a), static_cast<std::uint16_t>(b)});
        }
      }
    }
    if (n["mode"] && scalar(n["mode"], path + ".mode", "off, adaptive or always")) {
      const std::string& m = n["mode"].Scalar();
      if (m == "off") {
        s.mode = engine::ProtectionMode::kOff;
      } else if (m == "adaptive") {
        s.mode = engine::ProtectionMode::kAdaptive;
      } else if (m == "always") {
        s.mode = engine::ProtectionMode::kAlways;
      } else {
        error(n["mode"], path + ".mode: expected off, adaptive or always, got '" + m + "'");
      }
    }
    if (n["monitor"]) {
      boolean(n["monitor"], path + ".monitor", s.monitor);
    }
    if (n["half_open"]) {
      double on = s.thresholds.half_open_on;
      double off = s.thresholds.half_open_off;
      const std::size_t before = errors_.size();
      thresholdPair(n["half_open"], path + ".half_open", on, off);
      for (const char* k : {"on", "off"}) {
        const YAML::Node v = n["half_open"].IsMap() ? n["half_open"][k] : YAML::Node();
        if (v && v.IsScalar() && v.Scalar().find_first_not_of("0123456789") != std::string::npos) {
          error(v, path + ".half_open." + k + ": expected a whole number of connections");
        }
      }
      if (errors_.size() == before) {
        s.thresholds.half_open_on = static_cast<std::uint32_t>(std::min(on, 4e9));
        s.thresholds.half_open_off = static_cast<std::uint32_t>(std::min(off, 4e9));
      }
    }
    if (n["syn_rate"]) {
      thresholdPair(n["syn_rate"], path + ".syn_rate", s.thresholds.syn_rate_on,
                    s.thresholds.syn_rate_off);
    }
    if (n["hold"]) {
      duration(n["hold"], path + ".hold", std::chrono::milliseconds(0), std::chrono::hours(24),
               s.thresholds.hold);
    }
    if (n["per_source"] &&
        map(n["per_source"], path + ".per_source", {"half_open", "syn_rate", "syn_burst"})) {
      const YAML::Node ps = n["per_source"];
      const std::string pp = path + ".per_source";
      if (ps["half_open"]) {
        integer(ps["half_open"], pp + ".half_open", 0, 0xffffffffULL, s.per_source.max_half_open);
      }
      if (ps["syn_rate"]) {
        integer(ps["syn_rate"], pp + ".syn_rate", 0, 0xffffffffULL, s.per_source.syn_rate);
      }
      if (ps["syn_burst"]) {
        integer(ps["syn_burst"], pp + ".syn_burst", 0, 0xffffffffULL, s.per_source.syn_burst);
      }
    }
    if (n["mss"]) {
      std::uint16_t v = 0;
      const std::size_t before = errors_.size();
      integer(n["mss"], path + ".mss", 64, 65535, v);
      if (errors_.size() == before) {
        s.mss_override = v;
      }
    }
    if (n["wscale"]) {
      if (n["wscale"].IsScalar() && n["wscale"].Scalar() == "none") {
        s.wscale_override = std::uint8_t{255};
      } else {
        std::uint8_t v = 0;
        const std::size_t before = errors_.size();
        integer(n["wscale"], path + ".wscale", 0, 14, v);
        if (errors_.size() == before) {
          s.wscale_override = v;
        }
      }
    }
  }

  void document(const YAML::Node& root, DaemonConfig& c) {
    if (!root || root.IsNull()) {
      return;  // an empty file: the defaults
    }
    if (!map(root, "",
             {"queues", "rules", "services", "allow", "deny", "dry_run", "timeouts", "emergency",
              "table", "half_open_accounting", "cookies", "proxy", "reap_half_open_after",
              "metrics", "logging", "user", "stats_interval"})) {
      return;
    }
    engine::EngineConfig& e = c.engine;
    engine::ProtectionConfig& p = e.protection;
    if (const YAML::Node q = root["queues"]; q && map(q, "queues", {"count", "first"})) {
      if (q["count"]) {
        integer(q["count"], "queues.count", 0, 64, c.queues);
      }
      if (q["first"]) {
        integer(q["first"], "queues.first", 0, 65535 - 64, c.first_queue);
      }
    }
    if (const YAML::Node r = root["rules"];
        r && map(r, "rules", {"mode", "table", "bypass_established"})) {
      if (r["mode"] && scalar(r["mode"], "rules.mode", "gateway or local")) {
        const std::string& m = r["mode"].Scalar();
        if (m == "gateway" || m == "local") {
          c.local_mode = m == "local";
        } else {
          error(r["mode"], "rules.mode: expected gateway or local, got '" + m + "'");
        }
      }
      if (r["table"]) {
        string(r["table"], "rules.table", c.table);
        const bool good = !c.table.empty() && c.table.size() <= 32 &&
                          std::all_of(c.table.begin(), c.table.end(), [](char ch) {
                            return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                                   (ch >= '0' && ch <= '9') || ch == '_';
                          });
        if (!good) {
          error(r["table"], "rules.table: 1 to 32 letters, digits or '_'");
        }
      }
      if (r["bypass_established"]) {
        boolean(r["bypass_established"], "rules.bypass_established", c.bypass_established);
      }
    }
    if (const YAML::Node s = root["services"]; s) {
      p.services.clear();  // the file's services replace the built-in catch-all
      if (!s.IsSequence() && !s.IsNull()) {
        error(s, "services: expected a list of services, got " + kind(s));
      } else if (s.IsSequence()) {
        std::vector<YAML::Node> nodes;
        for (std::size_t i = 0; i < s.size(); ++i) {
          engine::ServiceConfig sc;
          const std::size_t before = errors_.size();
          service(s[i], "services[" + std::to_string(i) + "]", sc);
          if (errors_.size() != before) {
            continue;
          }
          for (std::size_t j = 0; j < p.services.size(); ++j) {
            if (p.services[j].name == sc.name) {
              error(s[i]["name"], "services[" + std::to_string(i) + "].name: '" + sc.name +
                                      "' is already the name of another service");
            } else if (p.services[j].addresses.overlaps(sc.addresses) &&
                       portsOverlap(p.services[j].ports, sc.ports)) {
              error(s[i], "services[" + std::to_string(i) + "]: '" + sc.name +
                              "' overlaps service '" + p.services[j].name +
                              "' (an address and a port in both)");
            }
          }
          p.services.push_back(std::move(sc));
        }
      }
    }
    if (root["allow"]) {
      prefixes(root["allow"], "allow", p.allow);
    }
    if (root["deny"]) {
      prefixes(root["deny"], "deny", p.deny);
    }
    if (root["dry_run"]) {
      boolean(root["dry_run"], "dry_run", p.dry_run);
    }
    if (root["timeouts"]) {
      timeouts(root["timeouts"], "timeouts", e.timeouts);
    }
    if (const YAML::Node m = root["emergency"];
        m && map(m, "emergency", {"enter_fill", "leave_fill", "timeouts"})) {
      if (m["enter_fill"]) {
        real(m["enter_fill"], "emergency.enter_fill", 0.01, 1.0, e.emergency.enter_fill);
      }
      if (m["leave_fill"]) {
        real(m["leave_fill"], "emergency.leave_fill", 0.0, 1.0, e.emergency.leave_fill);
      }
      if (!(e.emergency.leave_fill < e.emergency.enter_fill)) {
        error(m, "emergency: leave_fill must be below enter_fill");
      }
      if (m["timeouts"]) {
        timeouts(m["timeouts"], "emergency.timeouts", e.emergency.timeouts);
      }
    }
    if (const YAML::Node t = root["table"];
        t && map(t, "table", {"capacity", "pickup_midstream"})) {
      if (t["capacity"]) {
        integer(t["capacity"], "table.capacity", 1024, std::uint64_t{1} << 28, e.table_capacity);
      }
      if (t["pickup_midstream"]) {
        boolean(t["pickup_midstream"], "table.pickup_midstream", e.pickup_midstream);
      }
    }
    if (const YAML::Node h = root["half_open_accounting"];
        h && map(h, "half_open_accounting",
                 {"source_prefix_v4", "source_prefix_v6", "service_capacity", "source_capacity"})) {
      if (h["source_prefix_v4"]) {
        integer(h["source_prefix_v4"], "half_open_accounting.source_prefix_v4", 1, 32,
                e.half_open.source_prefix_v4);
      }
      if (h["source_prefix_v6"]) {
        integer(h["source_prefix_v6"], "half_open_accounting.source_prefix_v6", 1, 128,
                e.half_open.source_prefix_v6);
      }
      if (h["service_capacity"]) {
        integer(h["service_capacity"], "half_open_accounting.service_capacity", 16,
                std::uint64_t{1} << 24, e.half_open.service_capacity);
      }
      if (h["source_capacity"]) {
        integer(h["source_capacity"], "half_open_accounting.source_capacity", 16,
                std::uint64_t{1} << 26, e.half_open.source_capacity);
      }
    }
    if (const YAML::Node k = root["cookies"];
        k && map(k, "cookies", {"key_file", "rotation", "window", "mss_v4", "mss_v6"})) {
      if (k["key_file"]) {
        string(k["key_file"], "cookies.key_file", c.key_file);
        if (c.key_file.empty() || c.key_file[0] != '/') {
          error(k["key_file"], "cookies.key_file: must be an absolute path");
        }
      }
      if (k["rotation"]) {
        duration(k["rotation"], "cookies.rotation", std::chrono::seconds(1),
                 std::chrono::hours(24 * 7), p.key_rotation);
      }
      if (k["window"]) {
        duration(k["window"], "cookies.window", std::chrono::seconds(1), std::chrono::minutes(10),
                 p.cookies.window);
      }
      if (k["mss_v4"]) {
        mssTable(k["mss_v4"], "cookies.mss_v4", p.cookies.v4);
      }
      if (k["mss_v6"]) {
        mssTable(k["mss_v6"], "cookies.mss_v6", p.cookies.v6);
      }
    }
    if (const YAML::Node x = root["proxy"];
        x && map(x, "proxy",
                 {"capacity", "max_ack_delay", "default_client_rtt", "server_timeout",
                  "syn_resend_interval", "zero_window_hold", "early_segment_buffers",
                  "early_segments_per_connection"})) {
      engine::ProxyConfig& px = p.proxy;
      if (x["capacity"]) {
        integer(x["capacity"], "proxy.capacity", 1, std::uint64_t{1} << 26, px.capacity);
      }
      const auto ms = std::chrono::milliseconds(0);
      const auto minute = std::chrono::minutes(1);
      if (x["max_ack_delay"]) {
        duration(x["max_ack_delay"], "proxy.max_ack_delay", ms, std::chrono::seconds(4),
                 px.max_ack_delay);
      }
      if (x["default_client_rtt"]) {
        duration(x["default_client_rtt"], "proxy.default_client_rtt", ms, std::chrono::seconds(4),
                 px.default_client_rtt);
      }
      if (x["server_timeout"]) {
        duration(x["server_timeout"], "proxy.server_timeout", std::chrono::milliseconds(100),
                 minute, px.server_timeout);
      }
      if (x["syn_resend_interval"]) {
        duration(x["syn_resend_interval"], "proxy.syn_resend_interval",
                 std::chrono::milliseconds(10), minute, px.syn_resend_interval);
      }
      if (x["zero_window_hold"]) {
        boolean(x["zero_window_hold"], "proxy.zero_window_hold", px.hold_with_zero_window);
      }
      if (x["early_segment_buffers"]) {
        integer(x["early_segment_buffers"], "proxy.early_segment_buffers", 0,
                std::uint64_t{1} << 22, px.early_segment_buffers);
      }
      if (x["early_segments_per_connection"]) {
        integer(x["early_segments_per_connection"], "proxy.early_segments_per_connection", 0, 64,
                px.early_segments_per_connection);
      }
      if (px.max_ack_delay >= px.server_timeout) {
        error(x, "proxy: max_ack_delay must be below server_timeout");
      }
    }
    if (root["reap_half_open_after"]) {
      duration(root["reap_half_open_after"], "reap_half_open_after", std::chrono::milliseconds(0),
               std::chrono::minutes(10), p.reap_half_open_after);
    }
    if (const YAML::Node m = root["metrics"]; m && map(m, "metrics", {"enabled", "listen"})) {
      if (m["enabled"]) {
        boolean(m["enabled"], "metrics.enabled", c.metrics_enabled);
      }
      if (m["listen"]) {
        string(m["listen"], "metrics.listen", c.metrics_listen);
        const auto colon = c.metrics_listen.rfind(':');
        std::uint16_t port = 0;
        if (colon == std::string::npos || colon == 0) {
          error(m["listen"], "metrics.listen: expected ADDRESS:PORT (e.g. 127.0.0.1:9815)");
        } else {
          YAML::Node portNode(c.metrics_listen.substr(colon + 1));
          const std::size_t before = errors_.size();
          integer(portNode, "metrics.listen", 1, 65535, port);
          if (errors_.size() != before) {
            errors_.pop_back();
            error(m["listen"], "metrics.listen: '" + c.metrics_listen + "' has no valid port");
          }
        }
      }
    }
    if (const YAML::Node l = root["logging"]; l && map(l, "logging", {"level", "rate_limit"})) {
      if (l["level"] && scalar(l["level"], "logging.level", "a level")) {
        const std::string& v = l["level"].Scalar();
        if (v == "error" || v == "warning" || v == "notice" || v == "info" || v == "debug") {
          c.log_level = v;
        } else {
          error(l["level"],
                "logging.level: expected error, warning, notice, info or debug, got '" + v + "'");
        }
      }
      if (const YAML::Node r = l["rate_limit"];
          r && map(r, "logging.rate_limit", {"per_second", "burst"})) {
        if (r["per_second"]) {
          real(r["per_second"], "logging.rate_limit.per_second", 0, 1e6, c.log_per_second);
        }
        if (r["burst"]) {
          integer(r["burst"], "logging.rate_limit.burst", 1, 1'000'000, c.log_burst);
        }
      }
    }
    if (root["user"]) {
      if (root["user"].IsNull()) {
        c.user.clear();
      } else {
        string(root["user"], "user", c.user);
      }
    }
    if (root["stats_interval"]) {
      std::chrono::milliseconds d{0};
      duration(root["stats_interval"], "stats_interval", std::chrono::milliseconds(0),
               std::chrono::hours(1), d);
      c.stats_interval_seconds = static_cast<double>(d.count()) / 1000.0;
    }
  }

 private:
  static bool portsOverlap(const std::vector<engine::PortRange>& a,
                           const std::vector<engine::PortRange>& b) {
    for (const auto& x : a) {
      for (const auto& y : b) {
        if (x.first <= y.last && y.first <= x.last) {
          return true;
        }
      }
    }
    return false;
  }

  std::string file_;
  std::vector<Diagnostic> errors_;
};

}  // namespace

LoadResult loadConfigString(std::string_view yaml, const std::string& name) {
  LoadResult r;
  Checker check(name);
  DaemonConfig c = defaultConfig();
  try {
    const YAML::Node root = YAML::Load(std::string(yaml));
    check.document(root, c);
  } catch (const YAML::Exception& e) {
    // yaml-cpp's marks are 0-based; its message repeats the position: keep the text only.
    check.errorAt(e.mark, e.msg.empty() ? std::string("malformed YAML") : "YAML: " + e.msg);
  }
  r.errors = std::move(check.errors());
  std::stable_sort(r.errors.begin(), r.errors.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return a.line != b.line ? a.line < b.line : a.column < b.column;
  });
  if (r.errors.empty()) {
    r.config = std::move(c);
  }
  return r;
}

LoadResult loadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadResult r;
    r.errors.push_back({path, 0, 0, "cannot read the configuration file"});
    return r;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().size() > (std::size_t{16} << 20)) {
    LoadResult r;
    r.errors.push_back({path, 0, 0, "larger than 16 MiB: not a configuration file"});
    return r;
  }
  // A file with nothing in it (or only comments) is a mistake — a truncated write, an editor
  // crash — not a request for the built-in defaults: those apply when there is no file.
  bool content = false;
  std::istringstream lines(text.str());
  for (std::string line; !content && std::getline(lines, line);) {
    const auto at = line.find_first_not_of(" \t\r");
    content = at != std::string::npos && line[at] != '#';
  }
  if (!content) {
    LoadResult r;
    r.errors.push_back({path, 1, 1,
                        "the file is empty: no configuration (remove the file to use the "
                        "built-in defaults)"});
    return r;
  }
  return loadConfigString(text.str(), path);
}

}  // namespace synguard::config
