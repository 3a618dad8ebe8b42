// Loading: every key reaches its field, the defaults are the engine's, the shipped example
// documents every key and loads to the defaults, files and durations.
#include "config/loader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace synguard::config {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

LoadResult load(const std::string& yaml) { return loadConfigString(yaml, "test.yaml"); }

/// Every diagnostic as "LINE:COL: message", one per line.
std::string errors(const LoadResult& r) {
  std::string s;
  for (const auto& d : r.errors) {
    s += std::to_string(d.line) + ":" + std::to_string(d.column) + ": " + d.message + "\n";
  }
  return s;
}

/// The names of the fields in which `a` and `b` differ, services and source_path aside (every
/// field of DaemonConfig and EngineConfig; the engine's structs have no operator==).
std::vector<std::string> differences(const DaemonConfig& a, const DaemonConfig& b) {
  std::vector<std::string> out;
#define SYNGUARD_SAME(field)   \
  if (!(a.field == b.field)) { \
    out.emplace_back(#field);  \
  }
  SYNGUARD_SAME(queues);
  SYNGUARD_SAME(first_queue);
  SYNGUARD_SAME(local_mode);
  SYNGUARD_SAME(nft_table);
  SYNGUARD_SAME(bypass_established);
  SYNGUARD_SAME(anti_spoofing);
  SYNGUARD_SAME(service_sides);
  SYNGUARD_SAME(key_file);
  SYNGUARD_SAME(user);
  SYNGUARD_SAME(metrics_enabled);
  SYNGUARD_SAME(metrics_listen);
  SYNGUARD_SAME(log_level);
  SYNGUARD_SAME(log_per_second);
  SYNGUARD_SAME(log_burst);
  SYNGUARD_SAME(stats_interval_seconds);
  SYNGUARD_SAME(xdp);
  SYNGUARD_SAME(engine.table_capacity);
  for (const char* t : {"timeouts", "emergency.timeouts"}) {
    const bool e = std::strcmp(t, "timeouts") != 0;
    const engine::Timeouts& x = e ? a.engine.emergency.timeouts : a.engine.timeouts;
    const engine::Timeouts& y = e ? b.engine.emergency.timeouts : b.engine.timeouts;
    for (const auto& [name, field] :
         std::vector<std::pair<const char*, milliseconds engine::Timeouts::*>>{
             {"syn_sent", &engine::Timeouts::syn_sent},
             {"syn_received", &engine::Timeouts::syn_received},
             {"established", &engine::Timeouts::established},
             {"fin_wait", &engine::Timeouts::fin_wait},
             {"close_wait", &engine::Timeouts::close_wait},
             {"closing", &engine::Timeouts::closing},
             {"last_ack", &engine::Timeouts::last_ack},
             {"time_wait", &engine::Timeouts::time_wait},
             {"closed", &engine::Timeouts::closed},
             {"unassured", &engine::Timeouts::unassured}}) {
      if (x.*field != y.*field) {
        out.push_back(std::string(t) + "." + name);
      }
    }
  }
  SYNGUARD_SAME(engine.emergency.enter_fill);
  SYNGUARD_SAME(engine.emergency.leave_fill);
  SYNGUARD_SAME(engine.half_open.service_capacity);
  SYNGUARD_SAME(engine.half_open.source_capacity);
  SYNGUARD_SAME(engine.half_open.source_prefix_v4);
  SYNGUARD_SAME(engine.half_open.source_prefix_v6);
  SYNGUARD_SAME(engine.pickup_midstream);
  SYNGUARD_SAME(engine.assured_reserve);
  SYNGUARD_SAME(engine.record_stray);
  SYNGUARD_SAME(engine.bypass_established);
  SYNGUARD_SAME(engine.attempt_timeout);
  SYNGUARD_SAME(engine.parse.wire_length);
  SYNGUARD_SAME(engine.parse.allow_zero_ip_length);
  SYNGUARD_SAME(engine.parse.verify_checksum);
  SYNGUARD_SAME(engine.protection.allow.cidrs(true));
  SYNGUARD_SAME(engine.protection.allow.cidrs(false));
  SYNGUARD_SAME(engine.protection.deny.cidrs(true));
  SYNGUARD_SAME(engine.protection.deny.cidrs(false));
  SYNGUARD_SAME(engine.protection.dry_run);
  SYNGUARD_SAME(engine.protection.cookies.window);
  SYNGUARD_SAME(engine.protection.cookies.max_age_windows);
  SYNGUARD_SAME(engine.protection.cookies.v4.values);
  SYNGUARD_SAME(engine.protection.cookies.v4.size);
  SYNGUARD_SAME(engine.protection.cookies.v6.values);
  SYNGUARD_SAME(engine.protection.cookies.v6.size);
  SYNGUARD_SAME(engine.protection.key_rotation);
  SYNGUARD_SAME(engine.protection.proxy.capacity);
  SYNGUARD_SAME(engine.protection.proxy.max_per_source);
  SYNGUARD_SAME(engine.protection.proxy.max_ack_delay);
  SYNGUARD_SAME(engine.protection.proxy.default_client_rtt);
  SYNGUARD_SAME(engine.protection.proxy.server_timeout);
  SYNGUARD_SAME(engine.protection.proxy.syn_resend_interval);
  SYNGUARD_SAME(engine.protection.proxy.hold_with_zero_window);
  SYNGUARD_SAME(engine.protection.proxy.early_segment_buffers);
  SYNGUARD_SAME(engine.protection.proxy.early_segments_per_connection);
  SYNGUARD_SAME(engine.protection.proxy.handoff);
  SYNGUARD_SAME(engine.protection.reap_half_open_after);
  SYNGUARD_SAME(engine.protection.reap_per_tick);
  SYNGUARD_SAME(engine.protection.default_mss_v4);
  SYNGUARD_SAME(engine.protection.default_mss_v6);
#undef SYNGUARD_SAME
  return out;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) {
    s += x + " ";
  }
  return s;
}

std::string sourceDir() {
  const char* dir = std::getenv("SYNGUARD_SOURCE_DIR");
  return dir == nullptr ? std::string(".") : std::string(dir);
}

constexpr const char* kService = R"(services:
  - name: web
    addresses: [198.51.100.10/32, "2001:db8::10"]
    ports: [80, "8000-8100"]
)";

/// One key of the schema: a document that sets it to a value other than the default, and
/// what must then hold of the loaded configuration (and not of the defaults).
struct KeyCase {
  std::string key;  ///< its path in the file ("services[]." for a service's keys)
  std::string yaml;
  std::function<bool(const DaemonConfig&)> holds;
};

const engine::ServiceConfig& firstService(const DaemonConfig& c) {
  return c.engine.protection.services.at(0);
}

std::vector<KeyCase> everyKey() {
  using C = const DaemonConfig&;
  const std::string svc = kService;
  std::vector<KeyCase> cases = {
      {"queues.count", "queues: {count: 4}", [](C c) { return c.queues == 4; }},
      {"queues.first", "queues: {first: 10}", [](C c) { return c.first_queue == 10; }},
      {"rules.mode", "rules: {mode: local}", [](C c) { return c.local_mode; }},
      {"rules.nft_table", "rules: {nft_table: sg_test}",
       [](C c) { return c.nft_table == "sg_test"; }},
      {"rules.bypass_established", "rules: {bypass_established: false}",
       [](C c) { return !c.bypass_established; }},
      {"rules.anti_spoofing", "rules: {anti_spoofing: off}", [](C c) { return !c.anti_spoofing; }},
      {"services[].name", svc, [](C c) { return firstService(c).name == "web"; }},
      {"services[].addresses", svc,
       [](C c) {
         return firstService(c).addresses.cidrs(true) ==
                    std::vector<std::string>{"198.51.100.10/32"} &&
                firstService(c).addresses.cidrs(false) ==
                    std::vector<std::string>{"2001:db8::10/128"};
       }},
      {"services[].ports", svc,
       [](C c) {
         const auto& p = firstService(c).ports;
         return p.size() == 2 && p[0].first == 80 && p[0].last == 80 && p[1].first == 8000 &&
                p[1].last == 8100;
       }},
      {"services[].mode", svc + "    mode: always\n",
       [](C c) { return firstService(c).mode == engine::ProtectionMode::kAlways; }},
      {"services[].mode", svc + "    mode: 'off'\n",
       [](C c) { return firstService(c).mode == engine::ProtectionMode::kOff; }},
      {"services[].monitor", svc + "    monitor: true\n",
       [](C c) { return firstService(c).monitor; }},
      {"services[].overload", svc + "    overload: pass\n",
       [](C c) { return firstService(c).overload == engine::OverloadPolicy::kPass; }},
      {"services[].half_open", svc + "    half_open: {on: 2000, off: 100}\n",
       [](C c) {
         return firstService(c).thresholds.half_open_on == 2000 &&
                firstService(c).thresholds.half_open_off == 100;
       }},
      {"services[].syn_rate", svc + "    syn_rate: {on: 9000.5, off: 10}\n",
       [](C c) {
         return firstService(c).thresholds.syn_rate_on == 9000.5 &&
                firstService(c).thresholds.syn_rate_off == 10;
       }},
      {"services[].hold", svc + "    hold: 2m\n",
       [](C c) { return firstService(c).thresholds.hold == seconds(120); }},
      {"services[].per_source.half_open", svc + "    per_source: {half_open: 7}\n",
       [](C c) { return firstService(c).per_source.max_half_open == 7; }},
      {"services[].per_source.syn_rate", svc + "    per_source: {syn_rate: 50}\n",
       [](C c) { return firstService(c).per_source.syn_rate == 50; }},
      {"services[].per_source.syn_burst", svc + "    per_source: {syn_burst: 80}\n",
       [](C c) { return firstService(c).per_source.syn_burst == 80; }},
      {"services[].mss", svc + "    mss: 1400\n",
       [](C c) { return firstService(c).mss_override == std::uint16_t{1400}; }},
      {"services[].wscale", svc + "    wscale: 3\n",
       [](C c) { return firstService(c).wscale_override == std::uint8_t{3}; }},
      {"services[].wscale", svc + "    wscale: none\n",
       [](C c) { return firstService(c).wscale_override == std::uint8_t{255}; }},
      {"services[].anti_spoofing", svc + "    anti_spoofing: off\n",
       [](C c) { return c.service_sides.count("web") == 1 && !c.service_sides.at("web").check; }},
      {"services[].server_interfaces", svc + "    server_interfaces: [eth1, bond0.7]\n",
       [](C c) {
         return c.service_sides.count("web") == 1 && c.service_sides.at("web").check &&
                c.service_sides.at("web").server_interfaces ==
                    std::vector<std::string>{"eth1", "bond0.7"};
       }},
      {"allow", "allow: [10.0.0.0/8, \"2001:db8::/32\"]",
       [](C c) {
         return c.engine.protection.allow.cidrs(true) == std::vector<std::string>{"10.0.0.0/8"} &&
                c.engine.protection.allow.cidrs(false) == std::vector<std::string>{"2001:db8::/32"};
       }},
      {"deny", "deny: [192.0.2.7]",
       [](C c) {
         return c.engine.protection.deny.cidrs(true) == std::vector<std::string>{"192.0.2.7/32"};
       }},
      {"dry_run", "dry_run: yes", [](C c) { return c.engine.protection.dry_run; }},
      {"emergency.enter_fill", "emergency: {enter_fill: 0.8}",
       [](C c) { return c.engine.emergency.enter_fill == 0.8; }},
      {"emergency.leave_fill", "emergency: {leave_fill: 0.5}",
       [](C c) { return c.engine.emergency.leave_fill == 0.5; }},
      {"table.capacity", "table: {capacity: 4096}",
       [](C c) { return c.engine.table_capacity == 4096; }},
      {"table.pickup_midstream", "table: {pickup_midstream: false}",
       [](C c) { return !c.engine.pickup_midstream; }},
      {"table.assured_reserve", "table: {assured_reserve: 0.5}",
       [](C c) { return c.engine.assured_reserve == 0.5; }},
      {"half_open_accounting.source_prefix_v4", "half_open_accounting: {source_prefix_v4: 16}",
       [](C c) { return c.engine.half_open.source_prefix_v4 == 16; }},
      {"half_open_accounting.source_prefix_v6", "half_open_accounting: {source_prefix_v6: 48}",
       [](C c) { return c.engine.half_open.source_prefix_v6 == 48; }},
      {"half_open_accounting.service_capacity", "half_open_accounting: {service_capacity: 1024}",
       [](C c) { return c.engine.half_open.service_capacity == 1024; }},
      {"half_open_accounting.source_capacity", "half_open_accounting: {source_capacity: 2048}",
       [](C c) { return c.engine.half_open.source_capacity == 2048; }},
      {"cookies.key_file", "cookies: {key_file: /etc/sg.key}",
       [](C c) { return c.key_file == "/etc/sg.key"; }},
      {"cookies.rotation", "cookies: {rotation: 10m}",
       [](C c) { return c.engine.protection.key_rotation == seconds(600); }},
      {"cookies.window", "cookies: {window: 32s}",
       [](C c) { return c.engine.protection.cookies.window == seconds(32); }},
      {"cookies.max_age_windows", "cookies: {max_age_windows: 3}",
       [](C c) { return c.engine.protection.cookies.max_age_windows == 3; }},
      {"cookies.mss_v4", "cookies: {mss_v4: [1000, 1460]}",
       [](C c) {
         const auto& t = c.engine.protection.cookies.v4;
         return t.size == 2 && t.values[0] == 1000 && t.values[1] == 1460;
       }},
      {"cookies.mss_v6", "cookies: {mss_v6: [1280]}",
       [](C c) {
         const auto& t = c.engine.protection.cookies.v6;
         return t.size == 1 && t.values[0] == 1280;
       }},
      {"cookies.default_mss_v4", "cookies: {default_mss_v4: 1400}",
       [](C c) { return c.engine.protection.default_mss_v4 == 1400; }},
      {"cookies.default_mss_v6", "cookies: {default_mss_v6: 1380}",
       [](C c) { return c.engine.protection.default_mss_v6 == 1380; }},
      {"proxy.capacity", "proxy: {capacity: 100}",
       [](C c) { return c.engine.protection.proxy.capacity == 100; }},
      {"proxy.max_per_source", "proxy: {max_per_source: 10}",
       [](C c) { return c.engine.protection.proxy.max_per_source == 10; }},
      {"proxy.max_ack_delay", "proxy: {max_ack_delay: 50ms}",
       [](C c) { return c.engine.protection.proxy.max_ack_delay == milliseconds(50); }},
      {"proxy.default_client_rtt", "proxy: {default_client_rtt: 10ms}",
       [](C c) { return c.engine.protection.proxy.default_client_rtt == milliseconds(10); }},
      {"proxy.server_timeout", "proxy: {server_timeout: 3s}",
       [](C c) { return c.engine.protection.proxy.server_timeout == seconds(3); }},
      {"proxy.syn_resend_interval", "proxy: {syn_resend_interval: 1s}",
       [](C c) { return c.engine.protection.proxy.syn_resend_interval == seconds(1); }},
      {"proxy.zero_window_hold", "proxy: {zero_window_hold: false}",
       [](C c) { return !c.engine.protection.proxy.hold_with_zero_window; }},
      {"proxy.early_segment_buffers", "proxy: {early_segment_buffers: 8}",
       [](C c) { return c.engine.protection.proxy.early_segment_buffers == 8; }},
      {"proxy.early_segments_per_connection", "proxy: {early_segments_per_connection: 2}",
       [](C c) { return c.engine.protection.proxy.early_segments_per_connection == 2; }},
      {"proxy.handoff", "proxy: {handoff: conntrack}",
       [](C c) { return c.engine.protection.proxy.handoff; }},
      {"reap_half_open_after", "reap_half_open_after: 0s",
       [](C c) { return c.engine.protection.reap_half_open_after == milliseconds(0); }},
      {"metrics.enabled", "metrics: {enabled: false}", [](C c) { return !c.metrics_enabled; }},
      {"metrics.listen", "metrics: {listen: \"[::1]:9999\"}",
       [](C c) { return c.metrics_listen == "[::1]:9999"; }},
      {"logging.level", "logging: {level: debug}", [](C c) { return c.log_level == "debug"; }},
      {"logging.rate_limit.per_second", "logging: {rate_limit: {per_second: 2.5}}",
       [](C c) { return c.log_per_second == 2.5; }},
      {"logging.rate_limit.burst", "logging: {rate_limit: {burst: 7}}",
       [](C c) { return c.log_burst == 7; }},
      {"user", "user: synguard", [](C c) { return c.user == "synguard"; }},
      {"stats_interval", "stats_interval: 5s", [](C c) { return c.stats_interval_seconds == 5.0; }},
      {"xdp.interfaces", "xdp: {interfaces: [eth0, bond0.7]}",
       [](C c) {
         return c.xdp.interfaces == std::vector<std::string>{"eth0", "bond0.7"};
       }},
      {"xdp.mode", "xdp: {mode: generic}", [](C c) { return c.xdp.mode == XdpMode::kGeneric; }},
  };
  // The nine per-state timeouts, normal and emergency: each a distinct value.
  const std::pair<const char*, milliseconds engine::Timeouts::*> kStates[] = {
      {"syn_sent", &engine::Timeouts::syn_sent},
      {"syn_received", &engine::Timeouts::syn_received},
      {"established", &engine::Timeouts::established},
      {"fin_wait", &engine::Timeouts::fin_wait},
      {"close_wait", &engine::Timeouts::close_wait},
      {"closing", &engine::Timeouts::closing},
      {"last_ack", &engine::Timeouts::last_ack},
      {"time_wait", &engine::Timeouts::time_wait},
      {"closed", &engine::Timeouts::closed},
      {"unassured", &engine::Timeouts::unassured}};
  int ms = 1001;
  for (const auto& [name, field] : kStates) {
    const milliseconds want(ms++);
    const std::string v = std::string(name) + ": " + std::to_string(want.count()) + "ms";
    cases.push_back({std::string("timeouts.") + name, "timeouts: {" + v + "}",
                     [field = field, want](C c) { return c.engine.timeouts.*field == want; }});
    cases.push_back(
        {std::string("emergency.timeouts.") + name, "emergency: {timeouts: {" + v + "}}",
         [field = field, want](C c) { return c.engine.emergency.timeouts.*field == want; }});
  }
  return cases;
}

TEST(ConfigLoader, EveryKeyReachesItsField) {
  for (const KeyCase& k : everyKey()) {
    SCOPED_TRACE(k.key + ":\n" + k.yaml);
    const auto r = load(k.yaml);
    ASSERT_TRUE(r.ok()) << errors(r);
    EXPECT_TRUE(k.holds(*r.config));
    EXPECT_FALSE(k.holds(defaultConfig())) << "the test value is the default";
  }
}

TEST(ConfigLoader, EveryKeyAtOnce) {
  // The same values in one document: no key disturbs another.
  const std::string doc =
      std::string(kService) +
      "    mode: always\n    monitor: true\n    half_open: {on: 2000, off: 100}\n"
      "    syn_rate: {on: 9000.5, off: 10}\n    hold: 2m\n"
      "    per_source: {half_open: 7, syn_rate: 50, syn_burst: 80}\n    mss: 1400\n"
      "    wscale: 3\n    overload: pass\n"
      "    server_interfaces: [eth1, bond0.7]\n"
      "queues: {count: 4, first: 10}\n"
      "rules: {mode: local, nft_table: sg_test, bypass_established: false, anti_spoofing: off}\n"
      "allow: [10.0.0.0/8, \"2001:db8::/32\"]\ndeny: [192.0.2.7]\ndry_run: yes\n"
      "timeouts: {syn_sent: 1001ms, syn_received: 1002ms, established: 1003ms, "
      "fin_wait: 1004ms, close_wait: 1005ms, closing: 1006ms, last_ack: 1007ms, "
      "time_wait: 1008ms, closed: 1009ms, unassured: 1010ms}\n"
      "emergency: {enter_fill: 0.8, leave_fill: 0.5, timeouts: {syn_sent: 1001ms, "
      "syn_received: 1002ms, established: 1003ms, fin_wait: 1004ms, close_wait: 1005ms, "
      "closing: 1006ms, last_ack: 1007ms, time_wait: 1008ms, closed: 1009ms, "
      "unassured: 1010ms}}\n"
      "table: {capacity: 4096, pickup_midstream: false, assured_reserve: 0.5}\n"
      "half_open_accounting: {source_prefix_v4: 16, source_prefix_v6: 48, "
      "service_capacity: 1024, source_capacity: 2048}\n"
      "cookies: {key_file: /etc/sg.key, rotation: 10m, window: 32s, max_age_windows: 3, "
      "mss_v4: [1000, 1460], mss_v6: [1280], default_mss_v4: 1400, default_mss_v6: 1380}\n"
      "proxy: {capacity: 100, max_per_source: 10, max_ack_delay: 50ms, default_client_rtt: 10ms, "
      "server_timeout: 3s, syn_resend_interval: 1s, zero_window_hold: false, "
      "early_segment_buffers: 8, early_segments_per_connection: 2, handoff: conntrack}\n"
      "reap_half_open_after: 0s\n"
      "metrics: {enabled: false, listen: \"[::1]:9999\"}\n"
      "logging: {level: debug, rate_limit: {per_second: 2.5, burst: 7}}\n"
      "user: synguard\nstats_interval: 5s\n"
      "xdp: {interfaces: [eth0, bond0.7], mode: generic}\n";
  const auto r = load(doc);
  ASSERT_TRUE(r.ok()) << errors(r);
  for (const KeyCase& k : everyKey()) {
    if (k.yaml.find("mode: 'off'") != std::string::npos ||
        k.yaml.find("wscale: none") != std::string::npos ||
        k.yaml.find("    anti_spoofing: off") != std::string::npos) {
      continue;  // the other value of the same key is in the document
    }
    EXPECT_TRUE(k.holds(*r.config)) << k.key;
  }
}

TEST(ConfigLoader, EmptyTextGivesTheDefaults) {
  for (const char* text : {"", "# nothing\n", "---\n", "{}"}) {
    const auto r = load(text);
    ASSERT_TRUE(r.ok()) << errors(r);
    EXPECT_EQ(joined(differences(*r.config, defaultConfig())), "") << text;
    ASSERT_EQ(r.config->engine.protection.services.size(), 1U);
    EXPECT_EQ(r.config->engine.protection.services[0].name, "all");
  }
}

TEST(ConfigLoader, TheDefaultsAreTheEngineDefaults) {
  const DaemonConfig d = defaultConfig();
  DaemonConfig plain;  // every struct's own defaults
  EXPECT_EQ(joined(differences(d, plain)), "");
  EXPECT_EQ(d.source_path, "");
  // Without a file: one adaptive catch-all service with the engine's default thresholds.
  ASSERT_EQ(d.engine.protection.services.size(), 1U);
  const engine::ServiceConfig& all = d.engine.protection.services[0];
  const engine::ServiceConfig fresh;
  EXPECT_EQ(all.name, "all");
  EXPECT_EQ(all.addresses.cidrs(true), std::vector<std::string>{"0.0.0.0/0"});
  EXPECT_EQ(all.addresses.cidrs(false), std::vector<std::string>{"::/0"});
  ASSERT_EQ(all.ports.size(), 1U);
  EXPECT_EQ(all.ports[0].first, 1);
  EXPECT_EQ(all.ports[0].last, 65535);
  EXPECT_EQ(all.mode, fresh.mode);
  EXPECT_EQ(all.monitor, fresh.monitor);
  EXPECT_EQ(all.overload, engine::OverloadPolicy::kDropSyn);
  EXPECT_EQ(all.overload, fresh.overload);
  EXPECT_EQ(all.thresholds.half_open_on, fresh.thresholds.half_open_on);
  EXPECT_EQ(all.thresholds.half_open_off, fresh.thresholds.half_open_off);
  EXPECT_EQ(all.thresholds.syn_rate_on, fresh.thresholds.syn_rate_on);
  EXPECT_EQ(all.thresholds.syn_rate_off, fresh.thresholds.syn_rate_off);
  EXPECT_EQ(all.thresholds.hold, fresh.thresholds.hold);
  EXPECT_FALSE(all.mss_override.has_value());
  EXPECT_FALSE(all.wscale_override.has_value());
  EXPECT_TRUE(engine::Engine::check(d.engine));
}

TEST(ConfigLoader, AFilesServicesReplaceTheCatchAll) {
  auto r = load(kService);
  ASSERT_TRUE(r.ok()) << errors(r);
  ASSERT_EQ(r.config->engine.protection.services.size(), 1U);
  EXPECT_EQ(r.config->engine.protection.services[0].name, "web");
  // An empty list (or an empty key) means none, without a warning; the daemon then refuses to
  // start, but check-config and the tests may well load it.
  for (const char* none : {"services: []\n", "services:\n"}) {
    r = load(none);
    ASSERT_TRUE(r.ok()) << errors(r);
    EXPECT_TRUE(r.config->engine.protection.services.empty()) << none;
    EXPECT_TRUE(r.errors.empty());
  }
}

TEST(ConfigLoader, TheShippedExampleLoadsToTheDefaults) {
  const std::string path = sourceDir() + "/config/synguard.yaml";
  const auto r = loadConfigFile(path);
  ASSERT_TRUE(r.ok()) << errors(r);
  EXPECT_TRUE(r.warnings.empty()) << "the example uses a deprecated spelling";
  const DaemonConfig& c = *r.config;
  EXPECT_EQ(c.source_path, path);
  // Every value is the built-in default: the file documents the defaults...
  EXPECT_EQ(joined(differences(c, defaultConfig())), "");
  // ...except its example service, which has the default thresholds.
  ASSERT_EQ(c.engine.protection.services.size(), 1U);
  const engine::ServiceConfig& s = c.engine.protection.services[0];
  const engine::ServiceConfig fresh;
  EXPECT_EQ(s.name, "web");
  EXPECT_EQ(s.addresses.cidrs(true), std::vector<std::string>{"198.51.100.10/32"});
  EXPECT_EQ(s.addresses.cidrs(false), std::vector<std::string>{"2001:db8:5::10/128"});
  ASSERT_EQ(s.ports.size(), 2U);
  EXPECT_EQ(s.ports[0].first, 80);
  EXPECT_EQ(s.ports[1].first, 443);
  EXPECT_EQ(s.mode, fresh.mode);
  EXPECT_EQ(s.monitor, fresh.monitor);
  EXPECT_EQ(s.overload, fresh.overload);
  EXPECT_EQ(s.thresholds.half_open_on, fresh.thresholds.half_open_on);
  EXPECT_EQ(s.thresholds.half_open_off, fresh.thresholds.half_open_off);
  EXPECT_EQ(s.thresholds.syn_rate_on, fresh.thresholds.syn_rate_on);
  EXPECT_EQ(s.thresholds.syn_rate_off, fresh.thresholds.syn_rate_off);
  EXPECT_EQ(s.thresholds.hold, fresh.thresholds.hold);
  EXPECT_EQ(s.per_source.max_half_open, fresh.per_source.max_half_open);
  EXPECT_EQ(s.per_source.syn_rate, fresh.per_source.syn_rate);
  EXPECT_EQ(s.per_source.syn_burst, fresh.per_source.syn_burst);
  EXPECT_FALSE(s.mss_override.has_value());
  EXPECT_FALSE(s.wscale_override.has_value());
}

TEST(ConfigLoader, TheShippedExampleDocumentsEveryKey) {
  std::ifstream in(sourceDir() + "/config/synguard.yaml");
  ASSERT_TRUE(in);
  std::stringstream text;
  text << in.rdbuf();
  const std::string file = text.str();
  for (const KeyCase& k : everyKey()) {
    // Each part of the path as a key ("part:"), in order; the optional service keys appear as
    // commented-out examples.
    std::size_t at = 0;
    std::stringstream parts(k.key);
    for (std::string part; std::getline(parts, part, '.');) {
      if (part.size() > 2 && part.substr(part.size() - 2) == "[]") {
        part.resize(part.size() - 2);
      }
      bool found = false;
      for (std::size_t p = file.find(part + ":", at); p != std::string::npos;
           p = file.find(part + ":", p + 1)) {
        const char before = p == 0 ? '\n' : file[p - 1];
        if (before == ' ' || before == '\n' || before == '{') {
          at = p + part.size();
          found = true;
          break;
        }
      }
      EXPECT_TRUE(found) << "config/synguard.yaml does not document " << k.key;
    }
  }
}

TEST(ConfigLoader, DurationsParse) {
  EXPECT_EQ(parseDuration("500ms"), milliseconds(500));
  EXPECT_EQ(parseDuration("0ms"), milliseconds(0));
  EXPECT_EQ(parseDuration("30s"), seconds(30));
  EXPECT_EQ(parseDuration("30"), seconds(30));
  EXPECT_EQ(parseDuration("0"), seconds(0));
  EXPECT_EQ(parseDuration("2m"), seconds(120));
  EXPECT_EQ(parseDuration("1h"), seconds(3600));
  EXPECT_EQ(parseDuration("5d"), seconds(5 * 86400));
  EXPECT_EQ(parseDuration("106751991167d"), milliseconds(106751991167LL * 86'400'000));
  for (const char* bad :
       {"", "s", "ms", "-1s", "-1", "+1s", "1.5s", ".5s", "10 s", " 10s", "10s ", "3w", "1S", "1e3",
        "1h30m", "0x10", "106751991168d", "99999999999999999999", "9223372036854775808ms"}) {
    EXPECT_FALSE(parseDuration(bad).has_value()) << "'" << bad << "'";
  }
  // In a file: the range check sees the value, whatever its unit.
  auto r = load(R"(timeouts: {syn_sent: 20d, syn_received: 480h, established: 1728000})");
  ASSERT_TRUE(r.ok()) << errors(r);
  EXPECT_EQ(r.config->engine.timeouts.syn_sent, std::chrono::hours(480));
  EXPECT_EQ(r.config->engine.timeouts.established, std::chrono::hours(480));
  r = load("timeouts: {syn_sent: 21d, syn_received: -5s, closed: 1.5s, closing: 0, last_ack: x}\n");
  EXPECT_EQ(errors(r),
            "1:22: timeouts.syn_sent: 21d is out of range (1ms-20d)\n"
            "1:41: timeouts.syn_received: expected a duration like 500ms, 30s, 2m, 1h or 5d, "
            "got '-5s'\n"
            "1:54: timeouts.closed: expected a duration like 500ms, 30s, 2m, 1h or 5d, got "
            "'1.5s'\n"
            "1:69: timeouts.closing: 0 is out of range (1ms-20d)\n"
            "1:82: timeouts.last_ack: expected a duration like 500ms, 30s, 2m, 1h or 5d, got "
            "'x'\n");
  // Whole seconds where the engine keeps seconds.
  r = load("cookies: {window: 1500ms}\n");
  EXPECT_EQ(errors(r), "1:19: cookies.window: 1500ms is not a whole number of seconds\n");
}

/// A file in /tmp with `text`, removed at the end of the scope.
class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    const int fd = ::mkstemp(path_.data());
    EXPECT_GE(fd, 0);
    EXPECT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    ::close(fd);
  }
  ~TempFile() { ::unlink(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_ = "/tmp/sg-config-XXXXXX";
};

TEST(ConfigLoader, AFileNamesItselfInEveryDiagnostic) {
  const TempFile f("queues: {count: 4}\nservices:\n  - name: web\n    ports: [80]\n");
  const auto r = loadConfigFile(f.path());
  ASSERT_EQ(r.errors.size(), 1U) << errors(r);
  EXPECT_EQ(r.errors[0].toString(), f.path() + ":3:5: services[0]: a service needs addresses");

  const TempFile good(kService);
  const auto ok = loadConfigFile(good.path());
  ASSERT_TRUE(ok.ok()) << errors(ok);
  EXPECT_EQ(ok.config->source_path, good.path());
}

TEST(ConfigLoader, AnEmptyFileIsAMistakeNotTheDefaults) {
  for (const char* text : {"", "\n  \n", "# just a comment\n  # another\n"}) {
    const TempFile f(text);
    const auto r = loadConfigFile(f.path());
    ASSERT_FALSE(r.ok()) << "'" << text << "'";
    ASSERT_EQ(r.errors.size(), 1U);
    EXPECT_EQ(r.errors[0].toString(),
              f.path() +
                  ":1:1: the file is empty: no configuration (remove the file to use the "
                  "built-in defaults)");
  }
}

TEST(ConfigLoader, UnreadableFile) {
  const auto r = loadConfigFile("/nonexistent/synguard.yaml");
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.errors.size(), 1U);
  EXPECT_EQ(r.errors[0].toString(),
            "/nonexistent/synguard.yaml:0:0: cannot read the configuration file");
}

}  // namespace
}  // namespace synguard::config
