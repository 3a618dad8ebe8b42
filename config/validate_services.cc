// The services list: each service's fields, then the services against each other (each
// destination belongs to one service).
#include <algorithm>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "config/checker.h"
#include "engine/limits.h"
#include "engine/track/window.h"

namespace synguard::config {
namespace {

using std::chrono::milliseconds;

/// RFC 7323 §2.3: the largest window scale shift (the engine's kMaxWindowScale).
constexpr std::uint64_t kMaxWscale = engine::kMaxWindowScale;

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

}  // namespace

void Checker::ports(const YAML::Node& n, const std::string& path,
                    std::vector<engine::PortRange>& out) {
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

bool Checker::interfaceName(const std::string& n) {
  return !n.empty() && n.size() < 16 && n != "." && n != ".." &&
         std::all_of(n.begin(), n.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.' || c == '@';
         });
}

void Checker::serviceSide(const YAML::Node& n, const std::string& path, ServiceSide& side) {
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
      error(l[i], index(lp, i) + ": '" + name +
                      "' is not an interface name: 1 to 15 letters, digits, '_', '-', '.' or '@'");
    } else if (std::find(side.server_interfaces.begin(), side.server_interfaces.end(), name) !=
               side.server_interfaces.end()) {
      error(l[i], index(lp, i) + ": '" + name + "' is already in the list");
    } else {
      side.server_interfaces.push_back(name);
    }
  }
  if (!side.check && n["anti_spoofing"]) {
    error(n["anti_spoofing"],
          join(path, "anti_spoofing") + ": off, but server_interfaces is set (remove one of them)");
  }
}

void Checker::serviceName(const YAML::Node& n, const std::string& path, engine::ServiceConfig& s) {
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
}

void Checker::serviceDestinations(const YAML::Node& n, const std::string& path,
                                  engine::ServiceConfig& s) {
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
}

void Checker::serviceProtection(const YAML::Node& n, const std::string& path,
                                engine::ServiceConfig& s) {
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
}

void Checker::servicePerSource(const YAML::Node& n, const std::string& path,
                               engine::ServiceConfig& s) {
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
}

void Checker::serviceAnnounced(const YAML::Node& n, const std::string& path,
                               engine::ServiceConfig& s) {
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
}

bool Checker::service(const YAML::Node& n, const std::string& path, engine::ServiceConfig& s,
                      ServiceSide& side) {
  const std::size_t before = errors_.size();
  if (!map(n, path,
           {"name", "addresses", "ports", "mode", "monitor", "half_open", "syn_rate", "hold",
            "per_source", "mss", "wscale", "overload", "anti_spoofing", "server_interfaces"})) {
    return false;
  }
  serviceName(n, path, s);
  serviceDestinations(n, path, s);
  serviceProtection(n, path, s);
  servicePerSource(n, path, s);
  serviceAnnounced(n, path, s);
  serviceSide(n, path, side);
  return errors_.size() == before;
}

void Checker::services(const YAML::Node& list) {
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
  if (list.size() > engine::kMaxServices) {
    error(list, "services: " + std::to_string(list.size()) + " services, at most " +
                    std::to_string(engine::kMaxServices));
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

}  // namespace synguard::config
