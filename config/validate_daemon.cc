// The sections that configure the daemon: queues, rules, metrics and logging.
#include <algorithm>
#include <string>
#include <string_view>

#include "config/checker.h"
#include "engine/limits.h"
#include "engine/packet/ip_address.h"

namespace synguard::config {

void Checker::queues(const YAML::Node& q) {
  if (!map(q, "queues", {"count", "first"})) {
    return;
  }
  if (q["count"]) {
    integer(q["count"], "queues.count", 0, engine::kMaxQueues, out_.queues);
  }
  if (q["first"]) {
    // Two ranges of `count` queues each (regular, then SYN queues), count at most
    // engine::kMaxQueues.
    integer(q["first"], "queues.first", 0, 65535 - (2 * engine::kMaxQueues - 1), out_.first_queue);
  }
}

void Checker::rules(const YAML::Node& r) {
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
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
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

void Checker::metrics(const YAML::Node& m) {
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

void Checker::logging(const YAML::Node& l) {
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

const char* toString(XdpMode m) noexcept {
  switch (m) {
    case XdpMode::kAuto:
      return "auto";
    case XdpMode::kNative:
      return "native";
    case XdpMode::kGeneric:
      return "generic";
    case XdpMode::kOff:
      return "off";
  }
  return "?";
}

void Checker::xdp(const YAML::Node& x) {
  if (x.IsNull()) {
    return;  // `xdp:` with nothing after it: no XDP, as when absent
  }
  if (!map(x, "xdp", {"interfaces", "mode"})) {
    return;
  }
  if (x["mode"]) {
    if (const auto m = choice(x["mode"], "xdp.mode", {"auto", "native", "generic", "off"})) {
      out_.xdp.mode = static_cast<XdpMode>(*m);
    }
  }
  const YAML::Node l = x["interfaces"];
  if (!l || l.IsNull()) {
    return;  // no interface: no XDP
  }
  if (!l.IsSequence()) {
    error(l, "xdp.interfaces: expected a list of interface names, got " + describe(l));
    return;
  }
  for (std::size_t i = 0; i < l.size(); ++i) {
    std::string name;
    if (!string(l[i], index("xdp.interfaces", i), name)) {
      continue;
    }
    std::vector<std::string>& have = out_.xdp.interfaces;
    if (!interfaceName(name)) {
      error(l[i], index("xdp.interfaces", i) + ": '" + name +
                      "' is not an interface name: 1 to 15 letters, digits, '_', '-', '.' or '@'");
    } else if (std::find(have.begin(), have.end(), name) != have.end()) {
      error(l[i], index("xdp.interfaces", i) + ": '" + name + "' is already in the list");
    } else if (have.size() == kMaxXdpInterfaces) {
      error(l[i], index("xdp.interfaces", i) + ": more than " + std::to_string(kMaxXdpInterfaces) +
                      " interfaces");
    } else {
      have.push_back(name);
    }
  }
}

}  // namespace synguard::config
