#include "config/checker.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "engine/limits.h"

namespace synguard::config {
namespace {

using engine::kMaxMssValues;
using engine::kMaxTimeout;
using std::chrono::milliseconds;

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

}  // namespace

std::string formatDuration(std::chrono::milliseconds d) {
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

void Checker::errorAt(const YAML::Mark& m, const std::string& message) {
  errors_.push_back({file_, m.line + 1, m.column + 1, message});
}

void Checker::error(const YAML::Node& at, const std::string& message) {
  errorAt(locate(at), message);
}

void Checker::warn(const YAML::Node& at, const std::string& message) {
  const YAML::Mark m = locate(at);
  warnings_.push_back({file_, m.line + 1, m.column + 1, message});
}

YAML::Mark Checker::locate(const YAML::Node& n) const {
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

std::string Checker::describe(const YAML::Node& n) {
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

std::string Checker::join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string Checker::index(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

bool Checker::map(const YAML::Node& n, const std::string& path,
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

bool Checker::scalar(const YAML::Node& n, const std::string& path, std::string_view what) {
  if (n.IsScalar()) {
    return true;
  }
  error(n, path + ": expected " + std::string(what) + ", got " + describe(n));
  return false;
}

bool Checker::boolean(const YAML::Node& n, const std::string& path, bool& out) {
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

bool Checker::real(const YAML::Node& n, const std::string& path, double min, double max,
                   double& out, bool above_min) {
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

bool Checker::string(const YAML::Node& n, const std::string& path, std::string& out) {
  if (!scalar(n, path, "a string")) {
    return false;
  }
  out = n.Scalar();
  return true;
}

std::optional<std::size_t> Checker::choice(const YAML::Node& n, const std::string& path,
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

void Checker::prefixes(const YAML::Node& n, const std::string& path, engine::PrefixSet& out) {
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

void Checker::mssTable(const YAML::Node& n, const std::string& path, engine::MssTable& out) {
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

void Checker::timeouts(const YAML::Node& n, const std::string& path, engine::Timeouts& t) {
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

}  // namespace synguard::config
