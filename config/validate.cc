// The schema of synguard.yaml: a walk over the parsed document that writes each valid value
// into DaemonConfig and collects every problem with the location of its node. A failed check
// leaves the default in place and the walk goes on, so one run reports everything. The walk is
// a Checker (checker.h); this file holds its top level.
#include "config/validate.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "config/checker.h"

namespace synguard::config {

using std::chrono::milliseconds;

void Checker::document(const YAML::Node& root) {
  if (!map(root, "",
           {"queues", "rules", "services", "allow", "deny", "dry_run", "timeouts", "emergency",
            "table", "half_open_accounting", "cookies", "proxy", "reap_half_open_after", "metrics",
            "logging", "user", "stats_interval", "xdp"})) {
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
  if (root["xdp"]) {
    xdp(root["xdp"]);
  }
  if (const YAML::Node u = root["user"]; u) {
    if (u.IsNull()) {
      out_.user.clear();
    } else {
      string(u, "user", out_.user);
    }
  }
  if (milliseconds d{0};
      root["stats_interval"] && duration(root["stats_interval"], "stats_interval", milliseconds(0),
                                         std::chrono::hours(1), d)) {
    out_.stats_interval_seconds = static_cast<double>(d.count()) / 1000.0;
  }
}

std::vector<Diagnostic> Checker::run(const YAML::Node& root) {
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

std::vector<Diagnostic> validateDocument(const YAML::Node& root, const std::string& file,
                                         DaemonConfig& out, std::vector<Diagnostic>& warnings) {
  return Checker(file, out, warnings).run(root);
}

}  // namespace synguard::config
