#pragma once

// The walk validateDocument() makes over a parsed synguard.yaml, shared by the files that check
// its parts: checker.cc (locations, shapes, scalars), validate_services.cc, validate_engine.cc,
// validate_daemon.cc and validate.cc (the document). Internal to synguard::config.

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "config/config.h"
#include "config/loader.h"
#include "engine/protect/prefix_set.h"
#include "engine/protect/protection.h"

namespace synguard::config {

/// The smallest MSS we announce or accept in a table: Linux's TCP_MIN_MSS is 88, and anything
/// smaller than 64 is certainly a typo.
constexpr std::uint64_t kMinMss = 64;

/// A duration in the largest unit that is exact: 120000 ms → "2m", 1500 ms → "1500ms".
std::string formatDuration(std::chrono::milliseconds d);
std::string formatNumber(double v);
bool allDigits(std::string_view s);
/// Decimal digits only (no sign, no spaces); nullopt if not that or beyond 64 bits.
std::optional<std::uint64_t> parseUnsigned(std::string_view s);

/// Checks one document: each check writes a valid value into the DaemonConfig or records an
/// error at the node and leaves the default, so one run reports every problem. Not
/// thread-safe; one per document.
class Checker {
 public:
  Checker(const std::string& file, DaemonConfig& out, std::vector<Diagnostic>& warnings)
      : file_(file), out_(out), warnings_(warnings) {}

  /// The errors, sorted by place (the warnings too, in place).
  std::vector<Diagnostic> run(const YAML::Node& root);

 private:
  // --- Locations (checker.cc) ------------------------------------------------------------

  /// yaml-cpp's marks are 0-based (a null mark is -1, which becomes 0: "no location").
  void errorAt(const YAML::Mark& m, const std::string& message);
  void error(const YAML::Node& at, const std::string& message);
  /// Something that loads but should change (a deprecated spelling).
  void warn(const YAML::Node& at, const std::string& message);
  /// Where a node is. A key with nothing after it (`hold:`) has a null value whose mark is the
  /// next token, often on the next line: point at the key instead.
  YAML::Mark locate(const YAML::Node& n) const;

  static std::string describe(const YAML::Node& n);
  static std::string join(const std::string& path, std::string_view key);
  static std::string index(const std::string& path, std::size_t i);

  // --- Shapes and scalars (checker.cc; the templates here) --------------------------------

  /// The node must be a map whose keys are all in `known` (each once). False if not a map.
  bool map(const YAML::Node& n, const std::string& path,
           std::initializer_list<std::string_view> known);

  bool scalar(const YAML::Node& n, const std::string& path, std::string_view what);

  /// YAML's booleans as yaml-cpp reads them: true/false, yes/no, on/off (any case), y/n.
  bool boolean(const YAML::Node& n, const std::string& path, bool& out);

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
            bool above_min = false);

  bool string(const YAML::Node& n, const std::string& path, std::string& out);

  /// One of `options`; its index.
  std::optional<std::size_t> choice(const YAML::Node& n, const std::string& path,
                                    std::initializer_list<std::string_view> options);

  /// A duration in [min, max]; `Duration` coarser than milliseconds must be whole.
  template <typename Duration>
  bool duration(const YAML::Node& n, const std::string& path, std::chrono::milliseconds min,
                std::chrono::milliseconds max, Duration& out) {
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

  void prefixes(const YAML::Node& n, const std::string& path, engine::PrefixSet& out);

  /// The MSS values a cookie can encode: 1 to 8, strictly ascending.
  void mssTable(const YAML::Node& n, const std::string& path, engine::MssTable& out);

  void timeouts(const YAML::Node& n, const std::string& path, engine::Timeouts& t);

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

  // --- Services (validate_services.cc) ----------------------------------------------------

  void ports(const YAML::Node& n, const std::string& path, std::vector<engine::PortRange>& out);
  /// An interface name as the kernel takes it (IFNAMSIZ - 1 bytes, no '/', ':' or space) and
  /// as the rules can quote it.
  static bool interfaceName(const std::string& n);
  /// anti_spoofing and server_interfaces of a service.
  void serviceSide(const YAML::Node& n, const std::string& path, ServiceSide& side);
  /// One service's fields, in the order below; true if it had no problem (it may then be
  /// checked against the others).
  void serviceName(const YAML::Node& n, const std::string& path, engine::ServiceConfig& s);
  /// addresses and ports: both required.
  void serviceDestinations(const YAML::Node& n, const std::string& path, engine::ServiceConfig& s);
  /// mode, monitor, overload and the thresholds that switch adaptive mode.
  void serviceProtection(const YAML::Node& n, const std::string& path, engine::ServiceConfig& s);
  void servicePerSource(const YAML::Node& n, const std::string& path, engine::ServiceConfig& s);
  /// mss and wscale: what the SYN-ACKs announce.
  void serviceAnnounced(const YAML::Node& n, const std::string& path, engine::ServiceConfig& s);
  bool service(const YAML::Node& n, const std::string& path, engine::ServiceConfig& s,
               ServiceSide& side);
  void services(const YAML::Node& list);

  // --- Sections of the engine (validate_engine.cc) and the daemon (validate_daemon.cc) ----

  void emergency(const YAML::Node& m);
  void table(const YAML::Node& t);
  void halfOpenAccounting(const YAML::Node& h);
  void cookies(const YAML::Node& k);
  void proxy(const YAML::Node& x);
  void queues(const YAML::Node& q);
  void rules(const YAML::Node& r);
  void metrics(const YAML::Node& m);
  void logging(const YAML::Node& l);
  void xdp(const YAML::Node& x);

  // --- The document (validate.cc) ---------------------------------------------------------

  void document(const YAML::Node& root);

  std::string file_;
  DaemonConfig& out_;
  std::vector<Diagnostic> errors_;
  std::vector<Diagnostic>& warnings_;
  /// Null values and the marks of their keys (see locate()).
  std::vector<std::pair<YAML::Node, YAML::Mark>> null_values_;
};

}  // namespace synguard::config
