// The sections that configure the engine: emergency, table, half_open_accounting, cookies and
// proxy.
#include <chrono>
#include <string>

#include "config/checker.h"
#include "engine/limits.h"

namespace synguard::config {
namespace {

using std::chrono::milliseconds;

/// At 128 bytes a slot, 2^28 slots are 32 GiB a queue: beyond that it is a typo. Stricter than
/// what the engine can index (engine::kMaxTableCapacity).
constexpr std::uint64_t kMaxConfiguredTableCapacity = std::uint64_t{1} << 28;
static_assert(kMaxConfiguredTableCapacity <= engine::kMaxTableCapacity);

}  // namespace

void Checker::emergency(const YAML::Node& m) {
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

void Checker::table(const YAML::Node& t) {
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

void Checker::halfOpenAccounting(const YAML::Node& h) {
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

void Checker::cookies(const YAML::Node& k) {
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
                             engine::kMaxCookieAgeWindows, p.cookies.max_age_windows) &&
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

void Checker::proxy(const YAML::Node& x) {
  if (!map(x, "proxy",
           {"capacity", "max_per_source", "max_ack_delay", "default_client_rtt", "server_timeout",
            "syn_resend_interval", "zero_window_hold", "early_segment_buffers",
            "early_segments_per_connection", "handoff"})) {
    return;
  }
  engine::ProxyConfig& px = out_.engine.protection.proxy;
  if (x["capacity"]) {
    integer(x["capacity"], "proxy.capacity", 1, engine::kMaxProxyCapacity, px.capacity);
  }
  if (x["max_per_source"]) {
    integer(x["max_per_source"], "proxy.max_per_source", 0, engine::kMaxProxyCapacity,
            px.max_per_source);
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
  if (x["handoff"]) {
    if (const auto m = choice(x["handoff"], "proxy.handoff", {"off", "conntrack"})) {
      px.handoff = *m == 1;
    }
  }
}

}  // namespace synguard::config
