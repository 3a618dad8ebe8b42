// The schema of synguard.yaml: a walk over the parsed document that writes each valid value
// into DaemonConfig and collects every problem with the location of its node. A failed check
// leaves the default in place and the walk goes on, so one run reports everything.
#include "config/validate.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "engine/limits.h"
#include "engine/packet/ip_address.h"
#include "engine/protect/protection.h"
#include "engine/track/window.h"

namespace synguard::config {
namespace {

using std::chrono::milliseconds;

using engine::kMaxCookieAgeWindows;
using engine::kMaxMssValues;
using engine::kMaxProxyCapacity;
using engine::kMaxQueues;
using engine::kMaxServices;
using engine::kMaxTimeout;
/// RFC 7323 §2.3: the largest window scale shift (the engine's kMaxWindowScale).
constexpr std::uint64_t kMaxWscale = engine::kMaxWindowScale;
/// At 128 bytes a slot, 2^28 slots are 32 GiB a queue: beyond that it is a typo. Stricter than
/// what the engine can index (engine::kMaxTableCapacity).
constexpr std::uint64_t kMaxConfiguredTableCapacity = std::uint64_t{1} << 28;
static_assert(kMaxConfiguredTableCapacity <= engine::kMaxTableCapacity);
/// The smallest MSS we announce or accept in a table: Linux's TCP_MIN_MSS is 88, and anything
/// smaller than 64 is certainly a typo.
constexpr std::uint64_t kMinMss = 64;

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

/// The closest of `known` within two edits, for "did you mean" (empty if none is that close).
std::string closest(std::string_view word, std::initializer_list<std::string_view> known) {
  std::string best;
  std::size_t best_distance = 3;
  for (const std::string_view k : known) {
    const std::size_t d = editDistance(word, k);
    if (d < best_distance) {
      best_distance = d;
      best = std::string(k);
    }
  }
  return best;
}

/// "off, adaptive or always".
std::string listOfChoices(std::initializer_list<std::string_view> options) {
  std::string s;
  std::size_t i = 0;
  for (const std::string_view o : options) {
    s += i == 0 ? "" : (i + 1 == options.size() ? " or " : ", ");
    s += o;
    ++i;
  }
  return s;
}

/// A duration in the largest unit that is exact: 120000 ms → "2m", 1500 ms → "1500ms".
std::string formatDuration(milliseconds d) {
  struct Unit {
    std::int64_t ms;
    const char* suffix;
  };
  constexpr Unit kUnits[] = {{86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}};
  const std::int64_t ms = d.count();
  if (ms == 0) {
    return "0s";
  }
  for (const Unit& u : kUnits) {
    if (ms % u.ms == 0) {
      return std::to_string(ms / u.ms) + u.suffix;
    }
  }
  return std::to_string(ms) + "ms";
}

std::string formatNumber(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

bool allDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/// Decimal digits only (no sign, no spaces); nullopt if not that or beyond 64 bits.
std::optional<std::uint64_t> parseUnsigned(std::string_view s) {
  if (!allDigits(s)) {
    return std::nullopt;
  }
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) {
    return std::nullopt;
  }
  return v;
}

unsigned prefixLength(std::string_view cidr) {
  const auto slash = cidr.rfind('/');
  return slash == std::string_view::npos
             ? 0U
             : static_cast<unsigned>(parseUnsigned(cidr.substr(slash + 1)).value_or(0));
}

/// A prefix in both sets (the longer of two nested ones: prefixes nest or are disjoint).
std::optional<std::string> sharedPrefix(const engine::PrefixSet& a, const engine::PrefixSet& b) {
  for (const bool v4 : {true, false}) {
    for (const std::string& x : a.cidrs(v4)) {
      for (const std::string& y : b.cidrs(v4)) {
        engine::PrefixSet px;
        engine::PrefixSet py;
        if (px.add(x) && py.add(y) && px.overlaps(py)) {
          return prefixLength(x) >= prefixLength(y) ? x : y;
        }
      }
    }
  }
  return std::nullopt;
}

/// The first port in both lists of ranges.
std::optional<std::uint16_t> sharedPort(const std::vector<engine::PortRange>& a,
                                        const std::vector<engine::PortRange>& b) {
  std::optional<std::uint16_t> lowest;
  for (const engine::PortRange& x : a) {
    for (const engine::PortRange& y : b) {
      if (x.first <= y.last && y.first <= x.last) {
        const std::uint16_t p = std::max(x.first, y.first);
        lowest = lowest ? std::min(*lowest, p) : p;
      }
    }
  }
  return lowest;
}

class Checker {
 public:
  Checker(const std::string& file, DaemonConfig& out, std::vector<Diagnostic>& warnings)
      : file_(file), out_(out), warnings_(warnings) {}

  std::vector<Diagnostic> run(const YAML::Node& root) {
    if (root.IsDefined() && !root.IsNull()) {
      document(root);
    }
    const auto by_place = [](const Diagnostic& a, const Diagnostic& b) {
      return a.line != b.line ? a.line < b.line : a.column < b.column;
    };
    std::stable_sort(errors_.begin(), errors_.end(), by_place);
    std::stable_sort(warnings_.begin(), warnings_.end(), by_place);
    return std::move(errors_);
  }

 private:
  // --- Locations ---------------------------------------------------------------------------

  /// yaml-cpp's marks are 0-based (a null mark is -1, which becomes 0: "no location").
  void errorAt(const YAML::Mark& m, const std::string& message) {
    errors_.push_back({file_, m.line + 1, m.column + 1, message});
  }
  void error(const YAML::Node& at, const std::string& message) { errorAt(locate(at), message); }
  /// Something that loads but should change (a deprecated spelling).
  void warn(const YAML::Node& at, const std::string& message) {
    const YAML::Mark m = locate(at);
    warnings_.push_back({file_, m.line + 1, m.column + 1, message});
  }

  /// Where a node is. A key with nothing after it (`hold:`) has a null value whose mark is the
  /// next token, often on the next line: point at the key instead.
  YAML::Mark locate(const YAML::Node& n) const {
    if (!n.IsDefined()) {
      return YAML::Mark::null_mark();
    }
    if (n.IsNull()) {
      for (const auto& [value, key_mark] : null_values_) {
        if (value.is(n)) {
          return key_mark;
        }
      }
    }
    return n.Mark();
  }

  static std::string describe(const YAML::Node& n) {
    if (!n.IsDefined()) {
      return "nothing";
    }
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

  static std::string join(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
  }
  static std::string index(const std::string& path, std::size_t i) {
    return path + "[" + std::to_string(i) + "]";
  }

  // --- Shapes and scalars ------------------------------------------------------------------

  /// The node must be a map whose keys are all in `known` (each once). False if not a map.
  bool map(const YAML::Node& n, const std::string& path,
           std::initializer_list<std::string_view> known) {
    if (!n.IsMap()) {
      error(n, (path.empty() ? std::string("the configuration") : path) +
                   ": expected a map of keys, got " + describe(n));
      return false;
    }
    std::vector<std::string> seen;
    for (const auto& kv : n) {
      if (!kv.first.IsScalar()) {
        error(kv.first, (path.empty() ? std::string("the configuration") : path) +
                            ": a key must be a plain word, got " + describe(kv.first));
        continue;
      }
      const std::string key = kv.first.Scalar();
      if (kv.second.IsNull()) {
        null_values_.emplace_back(kv.second, kv.first.Mark());
      }
      if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
        error(kv.first, join(path, key) + ": duplicate key (only the first one would count)");
        continue;
      }
      seen.push_back(key);
      if (std::find(known.begin(), known.end(), key) != known.end()) {
        continue;
      }
      const std::string suggestion = closest(key, known);
      error(kv.first, "unknown key '" + join(path, key) + "'" +
                          (suggestion.empty() ? "" : " (did you mean '" + suggestion + "'?)"));
    }
    return true;
  }

  bool scalar(const YAML::Node& n, const std::string& path, std::string_view what) {
    if (n.IsScalar()) {
      return true;
    }
    error(n, path + ": expected " + std::string(what) + ", got " + describe(n));
    return false;
  }

  /// YAML's booleans as yaml-cpp reads them: true/false, yes/no, on/off (any case), y/n.
  bool boolean(const YAML::Node& n, const std::string& path, bool& out) {
    if (!scalar(n, path, "true or false")) {
      return false;
    }
    bool v = false;
    if (!YAML::convert<bool>::decode(n, v)) {
      error(n, path + ": expected true or false, got '" + n.Scalar() + "'");
      return false;
    }
    out = v;
    return true;
  }

  template <typename T>
  bool integer(const YAML::Node& n, const std::string& path, std::uint64_t min, std::uint64_t max,
               T& out) {
    static_assert(std::is_unsigned_v<T>);
    if (!scalar(n, path, "a whole number")) {
      return false;
    }
    const std::string& s = n.Scalar();
    const auto v = parseUnsigned(s);
    const bool number_like =
        allDigits(s) || (s.size() > 1 && s[0] == '-' && allDigits(s.substr(1)));
    if (!v && !number_like) {
      error(n, path + ": expected a whole number, got '" + s + "'");
      return false;
    }
    if (!v || *v < min || *v > max) {
      error(n, path + ": " + s + " is out of range (" + std::to_string(min) + "-" +
                   std::to_string(max) + ")");
      return false;
    }
    out = static_cast<T>(*v);
    return true;
  }

  /// A decimal number in [min, max], or in (min, max] with `above_min`.
  bool real(const YAML::Node& n, const std::string& path, double min, double max, double& out,
            bool above_min = false) {
    if (!scalar(n, path, "a number")) {
      return false;
    }
    const std::string& s = n.Scalar();
    // strtod alone would also take "inf", "nan", hex and leading blanks.
    const bool plain = !s.empty() && s.find_first_not_of("0123456789.eE+-") == std::string::npos;
    char* end = nullptr;
    const double v = plain ? std::strtod(s.c_str(), &end) : 0.0;
    if (!plain || end != s.c_str() + s.size() || !std::isfinite(v)) {
      error(n, path + ": expected a number, got '" + s + "'");
      return false;
    }
    if (v < min || v > max || (above_min && v == min)) {
      error(n, path + ": " + s + " is out of range (" + (above_min ? "above " : "") +
                   formatNumber(min) + (above_min ? ", up to " : "-") + formatNumber(max) + ")");
      return false;
    }
    out = v;
    return true;
  }

  bool string(const YAML::Node& n, const std::string& path, std::string& out) {
    if (!scalar(n, path, "a string")) {
      return false;
    }
    out = n.Scalar();
    return true;
  }

  /// One of `options`; its index.
  std::optional<std::size_t> choice(const YAML::Node& n, const std::string& path,
                                    std::initializer_list<std::string_view> options) {
    const std::string expected = listOfChoices(options);
    if (!scalar(n, path, expected)) {
      return std::nullopt;
    }
    const std::string& s = n.Scalar();
    const auto it = std::find(options.begin(), options.end(), s);
    if (it != options.end()) {
      return static_cast<std::size_t>(it - options.begin());
    }
    const std::string suggestion = closest(s, options);
    error(n, path + ": expected " + expected + ", got '" + s + "'" +
                 (suggestion.empty() ? "" : " (did you mean '" + suggestion + "'?)"));
    return std::nullopt;
  }

  /// A duration in [min, max]; `Duration` coarser than milliseconds must be whole.
  template <typename Duration>
  bool duration(const YAML::Node& n, const std::string& path, milliseconds min, milliseconds max,
                Duration& out) {
    if (!scalar(n, path, "a duration")) {
      return false;
    }
    const std::string& s = n.Scalar();
    const auto d = parseDuration(s);
    const std::string_view unit =
        std::string_view(s).substr(std::min(s.size(), s.find_first_not_of("0123456789")));
    if (!d && !s.empty() && std::isdigit(static_cast<unsigned char>(s[0])) != 0 &&
        (unit.empty() || unit == "ms" || unit == "s" || unit == "m" || unit == "h" ||
         unit == "d")) {
      error(n, path + ": " + s + " is out of range (" + formatDuration(min) + "-" +
                   formatDuration(max) + ")");
      return false;
    }
    if (!d) {
      error(n, path + ": expected a duration like 500ms, 30s, 2m, 1h or 5d, got '" + s + "'");
      return false;
    }
    if (*d < min || *d > max) {
      error(n, path + ": " + s + " is out of range (" + formatDuration(min) + "-" +
                   formatDuration(max) + ")");
      return false;
    }
    const auto converted = std::chrono::duration_cast<Duration>(*d);
    if (converted != *d) {
      error(n, path + ": " + s + " is not a whole number of seconds");
      return false;
    }
    out = converted;
    return true;
  }

  void prefixes(const YAML::Node& n, const std::string& path, engine::PrefixSet& out) {
    if (!n.IsSequence()) {
      error(n, path + ": expected a list of addresses or prefixes, got " + describe(n));
      return;
    }
    for (std::size_t i = 0; i < n.size(); ++i) {
      const std::string p = index(path, i);
      if (!scalar(n[i], p, "an address or prefix")) {
        continue;
      }
      if (auto added = out.add(n[i].Scalar()); !added) {
        error(n[i], p + ": " + added.error().message);
      }
    }
  }

  /// The MSS values a cookie can encode: 1 to 8, strictly ascending.
  void mssTable(const YAML::Node& n, const std::string& path, engine::MssTable& out) {
    if (!n.IsSequence() || n.size() == 0 || n.size() > kMaxMssValues) {
      error(n, path + ": expected a list of 1 to " + std::to_string(kMaxMssValues) +
                   " MSS values, got " +
                   (n.IsSequence() ? std::to_string(n.size()) + " values" : describe(n)));
      return;
    }
    engine::MssTable t;
    bool ok = true;
    for (std::size_t i = 0; i < n.size(); ++i) {
      std::uint16_t v = 0;
      if (!integer(n[i], index(path, i), kMinMss, 65535, v)) {
        ok = false;
        continue;
      }
      if (ok && i > 0 && v <= t.values[i - 1]) {
        error(n[i], index(path, i) + ": " + std::to_string(v) + " must be above the value " +
                        "before it (" + std::to_string(t.values[i - 1]) +
                        "): the table is ascending");
        ok = false;
        continue;
      }
      t.values[i] = v;
      t.size = static_cast<std::uint8_t>(i + 1);
    }
    if (ok) {
      out = t;
    }
  }

  void timeouts(const YAML::Node& n, const std::string& path, engine::Timeouts& t) {
    if (!map(n, path,
             {"syn_sent", "syn_received", "established", "fin_wait", "close_wait", "closing",
              "last_ack", "time_wait", "closed", "unassured"})) {
      return;
    }
    const std::pair<const char*, milliseconds*> fields[] = {
        {"syn_sent", &t.syn_sent},       {"syn_received", &t.syn_received},
        {"established", &t.established}, {"fin_wait", &t.fin_wait},
        {"close_wait", &t.close_wait},   {"closing", &t.closing},
        {"last_ack", &t.last_ack},       {"time_wait", &t.time_wait},
        {"closed", &t.closed},           {"unassured", &t.unassured}};
    for (const auto& [key, field] : fields) {
      if (n[key]) {
        duration(n[key], join(path, key), milliseconds(1), kMaxTimeout, *field);
      }
    }
  }

  /// `{on, off}` hysteresis: whole connections (T unsigned) or a rate (T double); off < on.
  template <typename T>
  void threshold(const YAML::Node& n, const std::string& path, T& on, T& off) {
    if (!map(n, path, {"on", "off"})) {
      return;
    }
    T new_on = on;
    T new_off = off;
    const auto parse = [&](const char* key, T& v) {
      if (!n[key]) {
        return true;
      }
      if constexpr (std::is_same_v<T, double>) {
        return real(n[key], join(path, key), 0, 1e12, v);
      } else {
        return integer(n[key], join(path, key), 0, std::numeric_limits<T>::max(), v);
      }
    };
    const bool on_ok = parse("on", new_on);
    const bool off_ok = parse("off", new_off);
    if (!on_ok || !off_ok) {
      return;
    }
    if (!(new_off < new_on)) {
      error(n, path + ": off (" + formatNumber(static_cast<double>(new_off)) +
                   ") must be below on (" + formatNumber(static_cast<double>(new_on)) + ")");
      return;
    }
    on = new_on;
    off = new_off;
  }

  // --- Services ----------------------------------------------------------------------------

  void ports(const YAML::Node& n, const std::string& path, std::vector<engine::PortRange>& out) {
    if (!n.IsSequence() || n.size() == 0) {
      error(n, path + ": expected a list of ports or ranges like \"8000-8100\", got " +
                   (n.IsSequence() ? std::string("an empty list") : describe(n)));
      return;
    }
    for (std::size_t i = 0; i < n.size(); ++i) {
      const std::string p = index(path, i);
      if (!scalar(n[i], p, "a port or a range")) {
        continue;
      }
      const std::string& text = n[i].Scalar();
      const auto dash = text.find('-', 1);  // not a leading minus sign
      const std::string_view lo_text = std::string_view(text).substr(0, dash);
      const std::string_view hi_text =
          dash == std::string::npos ? lo_text : std::string_view(text).substr(dash + 1);
      const auto lo = parseUnsigned(lo_text);
      const auto hi = parseUnsigned(hi_text);
      const bool number_like = (allDigits(lo_text) || (lo_text.size() > 1 && lo_text[0] == '-' &&
                                                       allDigits(lo_text.substr(1)))) &&
                               allDigits(hi_text);
      if (!number_like) {
        error(n[i], p + ": expected a port or a range like 8000-8100, got '" + text + "'");
      } else if (!lo || !hi || *lo < 1 || *lo > 65535 || *hi < 1 || *hi > 65535) {
        error(n[i], p + ": " + text + " is not a port (1-65535)");
      } else if (*hi < *lo) {
        error(n[i], p + ": range " + text + " ends before it starts");
      } else {
        out.push_back({static_cast<std::uint16_t>(*lo), static_cast<std::uint16_t>(*hi)});
      }
    }
  }

  /// One service; true if it had no problem (it may then be checked against the others).
  /// An interface name as the kernel takes it (IFNAMSIZ - 1 bytes, no '/', ':' or space) and
  /// as the rules can quote it.
  static bool interfaceName(const std::string& n) {
    return !n.empty() && n.size() < 16 && n != "." && n != ".." &&
           std::all_of(n.begin(), n.end(), [](char c) {
             return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.' || c == '@';
           });
  }

  /// anti_spoofing and server_interfaces of a service.
  void serviceSide(const YAML::Node& n, const std::string& path, ServiceSide& side) {
    if (n["anti_spoofing"]) {
      if (const auto m = choice(n["anti_spoofing"], join(path, "anti_spoofing"), {"auto", "off"})) {
        side.check = *m == 0;
      }
    }
    const YAML::Node l = n["server_interfaces"];
    if (!l) {
      return;
    }
    const std::string lp = join(path, "server_interfaces");
    if (!l.IsSequence()) {
      error(l, lp + ": expected a list of interface names, got " + describe(l));
      return;
    }
    if (l.size() == 0) {
      error(l, lp + ": empty (leave it out to follow the kernel's routes)");
      return;
    }
    for (std::size_t i = 0; i < l.size(); ++i) {
      std::string name;
      if (!string(l[i], index(lp, i), name)) {
        continue;
      }
      if (!interfaceName(name)) {
        error(l[i],
              index(lp, i) + ": '" + name +
                  "' is not an interface name: 1 to 15 letters, digits, '_', '-', '.' or '@'");
      } else if (std::find(side.server_interfaces.begin(), side.server_interfaces.end(), name) !=
                 side.server_interfaces.end()) {
        error(l[i], index(lp, i) + ": '" + name + "' is already in the list");
      } else {
        side.server_interfaces.push_back(name);
      }
    }
    if (!side.check && n["anti_spoofing"]) {
      error(n["anti_spoofing"], join(path, "anti_spoofing") +
                                    ": off, but server_interfaces is set (remove one of them)");
    }
  }

  bool service(const YAML::Node& n, const std::string& path, engine::ServiceConfig& s,
               ServiceSide& side) {
    const std::size_t before = errors_.size();
    if (!map(n, path,
             {"name", "addresses", "ports", "mode", "monitor", "half_open", "syn_rate", "hold",
              "per_source", "mss", "wscale", "overload", "anti_spoofing", "server_interfaces"})) {
      return false;
    }
    if (!n["name"]) {
      error(n, path + ": a service needs a name");
    } else if (string(n["name"], join(path, "name"), s.name)) {
      const bool good = !s.name.empty() && std::all_of(s.name.begin(), s.name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-' || c == '.';
      });
      if (!good) {
        error(n["name"], join(path, "name") + ": '" + s.name +
                             "' is not a name: use letters, digits, '_', '-' and '.'");
      }
    }
    if (!n["addresses"]) {
      error(n, path + ": a service needs addresses");
    } else if (n["addresses"].IsSequence() && n["addresses"].size() == 0) {
      error(n["addresses"], join(path, "addresses") + ": empty (a service needs addresses)");
    } else {
      prefixes(n["addresses"], join(path, "addresses"), s.addresses);
    }
    if (!n["ports"]) {
      error(n, path + ": a service needs ports");
    } else {
      ports(n["ports"], join(path, "ports"), s.ports);
    }
    if (n["mode"]) {
      constexpr engine::ProtectionMode kModes[] = {engine::ProtectionMode::kOff,
                                                   engine::ProtectionMode::kAdaptive,
                                                   engine::ProtectionMode::kAlways};
      if (const auto m = choice(n["mode"], join(path, "mode"), {"off", "adaptive", "always"})) {
        s.mode = kModes[*m];
      }
    }
    if (n["monitor"]) {
      boolean(n["monitor"], join(path, "monitor"), s.monitor);
    }
    if (n["overload"]) {
      constexpr engine::OverloadPolicy kPolicies[] = {engine::OverloadPolicy::kDropSyn,
                                                      engine::OverloadPolicy::kPass};
      if (const auto o = choice(n["overload"], join(path, "overload"), {"drop_syn", "pass"})) {
        s.overload = kPolicies[*o];
      }
    }
    if (n["half_open"]) {
      threshold(n["half_open"], join(path, "half_open"), s.thresholds.half_open_on,
                s.thresholds.half_open_off);
    }
    if (n["syn_rate"]) {
      threshold(n["syn_rate"], join(path, "syn_rate"), s.thresholds.syn_rate_on,
                s.thresholds.syn_rate_off);
    }
    if (n["hold"]) {
      duration(n["hold"], join(path, "hold"), milliseconds(0), std::chrono::hours(24),
               s.thresholds.hold);
    }
    const std::string ps_path = join(path, "per_source");
    if (const YAML::Node ps = n["per_source"];
        ps && map(ps, ps_path, {"half_open", "syn_rate", "syn_burst"})) {
      constexpr std::uint64_t kMax = std::numeric_limits<std::uint32_t>::max();
      if (ps["half_open"]) {
        integer(ps["half_open"], join(ps_path, "half_open"), 0, kMax, s.per_source.max_half_open);
      }
      if (ps["syn_rate"]) {
        integer(ps["syn_rate"], join(ps_path, "syn_rate"), 0, kMax, s.per_source.syn_rate);
      }
      if (ps["syn_burst"]) {
        integer(ps["syn_burst"], join(ps_path, "syn_burst"), 0, kMax, s.per_source.syn_burst);
      }
    }
    if (n["mss"]) {
      std::uint16_t v = 0;
      if (integer(n["mss"], join(path, "mss"), kMinMss, 65535, v)) {
        s.mss_override = v;
      }
    }
    if (n["wscale"]) {
      if (n["wscale"].IsScalar() && n["wscale"].Scalar() == "none") {
        s.wscale_override = std::uint8_t{255};  // > 14: announce no window scaling
      } else if (std::uint8_t v = 0; n["wscale"].IsScalar() && allDigits(n["wscale"].Scalar())) {
        if (integer(n["wscale"], join(path, "wscale"), 0, kMaxWscale, v)) {
          s.wscale_override = v;
        }
      } else {
        error(n["wscale"],
              join(path, "wscale") + ": expected 0 to 14 or none, got " + describe(n["wscale"]));
      }
    }
    serviceSide(n, path, side);
    return errors_.size() == before;
  }

  void services(const YAML::Node& list) {
    std::vector<engine::ServiceConfig>& out = out_.engine.protection.services;
    out.clear();  // the file's services replace the built-in catch-all
    out_.service_sides.clear();
    if (list.IsNull()) {
      return;  // `services:` with nothing after it: none, as `services: []`
    }
    if (!list.IsSequence()) {
      error(list, "services: expected a list of services, got " + describe(list));
      return;
    }
    if (list.size() > kMaxServices) {
      error(list, "services: " + std::to_string(list.size()) + " services, at most " +
                      std::to_string(kMaxServices));
    }
    std::vector<std::size_t> positions;  // out[j] is services[positions[j]] of the file
    for (std::size_t i = 0; i < list.size(); ++i) {
      const std::string path = index("services", i);
      engine::ServiceConfig s;
      ServiceSide side;
      if (!service(list[i], path, s, side)) {
        continue;
      }
      bool clash = false;
      for (std::size_t j = 0; j < out.size(); ++j) {
        const engine::ServiceConfig& other = out[j];
        const std::string other_path = index("services", positions[j]);
        if (other.name == s.name) {
          error(list[i]["name"],
                path + ".name: '" + s.name + "' is already the name of " + other_path);
          clash = true;
          continue;
        }
        const auto port = sharedPort(other.ports, s.ports);
        if (!port || !other.addresses.overlaps(s.addresses)) {
          continue;
        }
        // Each destination belongs to one service (ServiceMap::create refuses overlaps).
        error(list[i], path + ": '" + s.name + "' overlaps service '" + other.name + "' (" +
                           other_path + "): both cover " +
                           sharedPrefix(other.addresses, s.addresses).value_or("an address") +
                           " port " + std::to_string(*port));
        clash = true;
      }
      if (!clash) {
        if (!side.check || !side.server_interfaces.empty()) {
          out_.service_sides[s.name] = side;
        }
        out.push_back(std::move(s));
        positions.push_back(i);
      }
    }
  }

  // --- Sections ----------------------------------------------------------------------------

  void queues(const YAML::Node& q) {
    if (!map(q, "queues", {"count", "first"})) {
      return;
    }
    if (q["count"]) {
      integer(q["count"], "queues.count", 0, kMaxQueues, out_.queues);
    }
    if (q["first"]) {
      // Two ranges of `count` queues each (regular, then SYN queues), count at most kMaxQueues.
      integer(q["first"], "queues.first", 0, 65535 - (2 * kMaxQueues - 1), out_.first_queue);
    }
  }

  void rules(const YAML::Node& r) {
    if (!map(r, "rules", {"mode", "nft_table", "table", "bypass_established", "anti_spoofing"})) {
      return;
    }
    if (r["mode"]) {
      if (const auto m = choice(r["mode"], "rules.mode", {"gateway", "local"})) {
        out_.local_mode = *m == 1;
      }
    }
    // `rules.table` is nft_table's old spelling: it read like the connection table (the
    // top-level `table:` section), so it was renamed. It still loads, with a warning.
    if (r["table"] && r["nft_table"]) {
      error(r["table"],
            "rules.table: the deprecated spelling of rules.nft_table, which is given too: keep "
            "only nft_table");
    } else if (r["table"]) {
      warn(r["table"], "rules.table is deprecated: use rules.nft_table (the same setting)");
    }
    const std::string key = r["nft_table"] || !r["table"] ? "nft_table" : "table";
    if (std::string t; r[key] && string(r[key], "rules." + key, t)) {
      const bool good = !t.empty() && t.size() <= 32 && std::all_of(t.begin(), t.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_';
      });
      if (good) {
        out_.nft_table = t;
      } else {
        error(r[key], "rules." + key + ": '" + t + "' is not a table name: 1 to 32 letters, " +
                          "digits or '_'");
      }
    }
    if (r["bypass_established"]) {
      boolean(r["bypass_established"], "rules.bypass_established", out_.bypass_established);
    }
    if (r["anti_spoofing"]) {
      if (const auto m = choice(r["anti_spoofing"], "rules.anti_spoofing", {"auto", "off"})) {
        out_.anti_spoofing = *m == 0;
      }
    }
  }

  void emergency(const YAML::Node& m) {
    if (!map(m, "emergency", {"enter_fill", "leave_fill", "timeouts"})) {
      return;
    }
    engine::EmergencyConfig& e = out_.engine.emergency;
    double enter = e.enter_fill;
    double leave = e.leave_fill;
    const bool enter_ok =
        !m["enter_fill"] || real(m["enter_fill"], "emergency.enter_fill", 0.0, 1.0, enter, true);
    const bool leave_ok =
        !m["leave_fill"] || real(m["leave_fill"], "emergency.leave_fill", 0.0, 1.0, leave);
    if (enter_ok && leave_ok) {
      if (leave < enter) {
        e.enter_fill = enter;
        e.leave_fill = leave;
      } else {
        error(m["leave_fill"] ? m["leave_fill"] : m["enter_fill"],
              "emergency.leave_fill: " + formatNumber(leave) + " must be below enter_fill (" +
                  formatNumber(enter) + ")");
      }
    }
    if (m["timeouts"]) {
      timeouts(m["timeouts"], "emergency.timeouts", e.timeouts);
    }
  }

  void table(const YAML::Node& t) {
    if (!map(t, "table", {"capacity", "pickup_midstream", "assured_reserve"})) {
      return;
    }
    if (t["capacity"]) {
      integer(t["capacity"], "table.capacity", 1024, kMaxConfiguredTableCapacity,
              out_.engine.table_capacity);
    }
    if (t["pickup_midstream"]) {
      boolean(t["pickup_midstream"], "table.pickup_midstream", out_.engine.pickup_midstream);
    }
    if (t["assured_reserve"]) {
      real(t["assured_reserve"], "table.assured_reserve", 0.0, 0.9, out_.engine.assured_reserve);
    }
  }

  void halfOpenAccounting(const YAML::Node& h) {
    if (!map(h, "half_open_accounting",
             {"source_prefix_v4", "source_prefix_v6", "service_capacity", "source_capacity"})) {
      return;
    }
    engine::HalfOpenConfig& c = out_.engine.half_open;
    if (h["source_prefix_v4"]) {
      integer(h["source_prefix_v4"], "half_open_accounting.source_prefix_v4", 1, 32,
              c.source_prefix_v4);
    }
    if (h["source_prefix_v6"]) {
      integer(h["source_prefix_v6"], "half_open_accounting.source_prefix_v6", 1, 128,
              c.source_prefix_v6);
    }
    if (h["service_capacity"]) {
      integer(h["service_capacity"], "half_open_accounting.service_capacity", 16,
              std::uint64_t{1} << 24, c.service_capacity);
    }
    if (h["source_capacity"]) {
      integer(h["source_capacity"], "half_open_accounting.source_capacity", 16,
              std::uint64_t{1} << 26, c.source_capacity);
    }
  }

  void cookies(const YAML::Node& k) {
    if (!map(k, "cookies",
             {"key_file", "rotation", "window", "max_age_windows", "mss_v4", "mss_v6",
              "default_mss_v4", "default_mss_v6"})) {
      return;
    }
    engine::ProtectionConfig& p = out_.engine.protection;
    if (std::string f; k["key_file"] && string(k["key_file"], "cookies.key_file", f)) {
      if (!f.empty() && f[0] == '/') {
        out_.key_file = f;
      } else {
        error(k["key_file"], "cookies.key_file: '" + f + "' is not an absolute path");
      }
    }
    bool lifetime_known = true;
    if (k["rotation"]) {
      lifetime_known = duration(k["rotation"], "cookies.rotation", std::chrono::seconds(1),
                                std::chrono::hours(24 * 7), p.key_rotation) &&
                       lifetime_known;
    }
    if (k["window"]) {
      lifetime_known = duration(k["window"], "cookies.window", std::chrono::seconds(1),
                                std::chrono::minutes(10), p.cookies.window) &&
                       lifetime_known;
    }
    if (k["max_age_windows"]) {
      lifetime_known = integer(k["max_age_windows"], "cookies.max_age_windows", 1,
                               kMaxCookieAgeWindows, p.cookies.max_age_windows) &&
                       lifetime_known;
    }
    // Only the previous key is kept after a rotation: a cookie must not outlive two periods.
    const auto lifetime = p.cookies.window * (p.cookies.max_age_windows + 1);
    if (lifetime_known && p.key_rotation < lifetime) {
      const YAML::Node at = k["rotation"] ? k["rotation"] : k;
      error(at, "cookies.rotation: " +
                    (k["rotation"] ? k["rotation"].Scalar() : formatDuration(p.key_rotation)) +
                    " is shorter than a cookie's life (window × (max_age_windows + 1) = " +
                    formatDuration(lifetime) + ")");
    }
    if (k["mss_v4"]) {
      mssTable(k["mss_v4"], "cookies.mss_v4", p.cookies.v4);
    }
    if (k["mss_v6"]) {
      mssTable(k["mss_v6"], "cookies.mss_v6", p.cookies.v6);
    }
    if (k["default_mss_v4"]) {
      integer(k["default_mss_v4"], "cookies.default_mss_v4", kMinMss, 65535, p.default_mss_v4);
    }
    if (k["default_mss_v6"]) {
      integer(k["default_mss_v6"], "cookies.default_mss_v6", kMinMss, 65535, p.default_mss_v6);
    }
  }

  void proxy(const YAML::Node& x) {
    if (!map(x, "proxy",
             {"capacity", "max_per_source", "max_ack_delay", "default_client_rtt", "server_timeout",
              "syn_resend_interval", "zero_window_hold", "early_segment_buffers",
              "early_segments_per_connection"})) {
      return;
    }
    engine::ProxyConfig& px = out_.engine.protection.proxy;
    if (x["capacity"]) {
      integer(x["capacity"], "proxy.capacity", 1, kMaxProxyCapacity, px.capacity);
    }
    if (x["max_per_source"]) {
      integer(x["max_per_source"], "proxy.max_per_source", 0, kMaxProxyCapacity, px.max_per_source);
    }
    const auto minute = std::chrono::minutes(1);
    milliseconds delay = px.max_ack_delay;
    milliseconds timeout = px.server_timeout;
    const bool delay_ok = !x["max_ack_delay"] || duration(x["max_ack_delay"], "proxy.max_ack_delay",
                                                          milliseconds(0), minute, delay);
    const bool timeout_ok =
        !x["server_timeout"] ||
        duration(x["server_timeout"], "proxy.server_timeout", milliseconds(100), minute, timeout);
    if (delay_ok && timeout_ok) {
      if (delay < timeout) {
        px.max_ack_delay = delay;
        px.server_timeout = timeout;
      } else {
        error(x["max_ack_delay"] ? x["max_ack_delay"] : x["server_timeout"],
              "proxy.max_ack_delay: " + formatDuration(delay) + " must be below server_timeout (" +
                  formatDuration(timeout) + ")");
      }
    }
    if (x["default_client_rtt"]) {
      duration(x["default_client_rtt"], "proxy.default_client_rtt", milliseconds(0),
               std::chrono::seconds(4), px.default_client_rtt);
    }
    if (x["syn_resend_interval"]) {
      duration(x["syn_resend_interval"], "proxy.syn_resend_interval", milliseconds(10), minute,
               px.syn_resend_interval);
    }
    if (x["zero_window_hold"]) {
      boolean(x["zero_window_hold"], "proxy.zero_window_hold", px.hold_with_zero_window);
    }
    if (x["early_segment_buffers"]) {
      integer(x["early_segment_buffers"], "proxy.early_segment_buffers", 0, std::uint64_t{1} << 22,
              px.early_segment_buffers);
    }
    if (x["early_segments_per_connection"]) {
      integer(x["early_segments_per_connection"], "proxy.early_segments_per_connection", 0, 64,
              px.early_segments_per_connection);
    }
  }

  void metrics(const YAML::Node& m) {
    if (!map(m, "metrics", {"enabled", "listen"})) {
      return;
    }
    if (m["enabled"]) {
      boolean(m["enabled"], "metrics.enabled", out_.metrics_enabled);
    }
    std::string listen;
    if (!m["listen"] || !string(m["listen"], "metrics.listen", listen)) {
      return;
    }
    // civetweb's listening_ports: an IPv4 address or a bracketed IPv6 one, a colon, a port.
    const auto colon = listen.rfind(':');
    std::string_view host =
        std::string_view(listen).substr(0, colon == std::string::npos ? 0 : colon);
    const bool bracketed = host.size() > 2 && host.front() == '[' && host.back() == ']';
    if (bracketed) {
      host = host.substr(1, host.size() - 2);
    }
    const std::uint64_t port =
        colon == std::string::npos
            ? 0
            : parseUnsigned(std::string_view(listen).substr(colon + 1)).value_or(0);
    const auto address = engine::IpAddress::parse(host);
    if (port < 1 || port > 65535 || !address || bracketed == address->isV4()) {
      error(m["listen"], "metrics.listen: '" + listen +
                             "' is not ADDRESS:PORT (e.g. 127.0.0.1:9815 or [::1]:9815)");
      return;
    }
    out_.metrics_listen = listen;
  }

  void logging(const YAML::Node& l) {
    if (!map(l, "logging", {"level", "rate_limit"})) {
      return;
    }
    if (l["level"]) {
      constexpr std::string_view kLevels[] = {"error", "warning", "notice", "info", "debug"};
      if (const auto v = choice(l["level"], "logging.level",
                                {kLevels[0], kLevels[1], kLevels[2], kLevels[3], kLevels[4]})) {
        out_.log_level = std::string(kLevels[*v]);
      }
    }
    if (const YAML::Node r = l["rate_limit"];
        r && map(r, "logging.rate_limit", {"per_second", "burst"})) {
      if (r["per_second"]) {
        real(r["per_second"], "logging.rate_limit.per_second", 0, 1e6, out_.log_per_second);
      }
      if (r["burst"]) {
        integer(r["burst"], "logging.rate_limit.burst", 1, 1'000'000, out_.log_burst);
      }
    }
  }

  void document(const YAML::Node& root) {
    if (!map(root, "",
             {"queues", "rules", "services", "allow", "deny", "dry_run", "timeouts", "emergency",
              "table", "half_open_accounting", "cookies", "proxy", "reap_half_open_after",
              "metrics", "logging", "user", "stats_interval"})) {
      return;
    }
    engine::ProtectionConfig& p = out_.engine.protection;
    if (root["queues"]) {
      queues(root["queues"]);
    }
    if (root["rules"]) {
      rules(root["rules"]);
    }
    if (root["services"]) {
      services(root["services"]);
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
      timeouts(root["timeouts"], "timeouts", out_.engine.timeouts);
    }
    if (root["emergency"]) {
      emergency(root["emergency"]);
    }
    if (root["table"]) {
      table(root["table"]);
    }
    if (root["half_open_accounting"]) {
      halfOpenAccounting(root["half_open_accounting"]);
    }
    if (root["cookies"]) {
      cookies(root["cookies"]);
    }
    if (root["proxy"]) {
      proxy(root["proxy"]);
    }
    if (root["reap_half_open_after"]) {
      duration(root["reap_half_open_after"], "reap_half_open_after", milliseconds(0),
               std::chrono::minutes(10), p.reap_half_open_after);
    }
    if (root["metrics"]) {
      metrics(root["metrics"]);
    }
    if (root["logging"]) {
      logging(root["logging"]);
    }
    if (const YAML::Node u = root["user"]; u) {
      if (u.IsNull()) {
        out_.user.clear();
      } else {
        string(u, "user", out_.user);
      }
    }
    if (milliseconds d{0};
        root["stats_interval"] && duration(root["stats_interval"], "stats_interval",
                                           milliseconds(0), std::chrono::hours(1), d)) {
      out_.stats_interval_seconds = static_cast<double>(d.count()) / 1000.0;
    }
  }

  std::string file_;
  DaemonConfig& out_;
  std::vector<Diagnostic> errors_;
  std::vector<Diagnostic>& warnings_;
  /// Null values and the marks of their keys (see locate()).
  std::vector<std::pair<YAML::Node, YAML::Mark>> null_values_;
};

}  // namespace

std::vector<Diagnostic> validateDocument(const YAML::Node& root, const std::string& file,
                                         DaemonConfig& out, std::vector<Diagnostic>& warnings) {
  return Checker(file, out, warnings).run(root);
}

}  // namespace synguard::config
