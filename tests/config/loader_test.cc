#include "config/loader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

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

constexpr const char* kService = R"(services:
  - name: web
    addresses: [198.51.100.10/32, "2001:db8::10"]
    ports: [80, "8000-8100"]
)";

TEST(ConfigLoader, EmptyFileGivesTheDefaults) {
  const auto r = load("");
  ASSERT_TRUE(r.ok()) << errors(r);
  // Protection without a file: one adaptive catch-all service.
  ASSERT_EQ(r.config->engine.protection.services.size(), 1U);
  const auto& all = r.config->engine.protection.services[0];
  EXPECT_EQ(all.name, "all");
  EXPECT_EQ(all.addresses.cidrs(true), std::vector<std::string>{"0.0.0.0/0"});
  EXPECT_EQ(all.addresses.cidrs(false), std::vector<std::string>{"::/0"});
  ASSERT_EQ(all.ports.size(), 1U);
  EXPECT_EQ(all.ports[0].first, 1);
  EXPECT_EQ(all.ports[0].last, 65535);
  EXPECT_EQ(all.mode, engine::ProtectionMode::kAdaptive);
  // A file's services replace it; an empty list means none.
  EXPECT_EQ(load(kService).config->engine.protection.services.size(), 1U);
  EXPECT_EQ(load(kService).config->engine.protection.services[0].name, "web");
  EXPECT_TRUE(load("services: []\n").config->engine.protection.services.empty());
  EXPECT_EQ(r.config->engine.table_capacity, defaultConfig().engine.table_capacity);
  EXPECT_EQ(r.config->metrics_listen, "127.0.0.1:9815");
  EXPECT_TRUE(r.config->bypass_established);
}

TEST(ConfigLoader, EveryKeyReachesItsField) {
  const auto r = load(std::string(kService) + R"(    mode: always
    monitor: true
    half_open: {on: 2000, off: 100}
    syn_rate: {on: 9000.5, off: 10}
    hold: 2m
    per_source: {half_open: 7, syn_rate: 50, syn_burst: 80}
    mss: 1400
    wscale: none
queues: {count: 4, first: 10}
rules: {mode: local, table: sg_test, bypass_established: false}
allow: [10.0.0.0/8]
deny: ["2001:db8:bad::/48"]
dry_run: yes
timeouts: {syn_sent: 30s, established: 1h, time_wait: 500ms}
emergency: {enter_fill: 0.8, leave_fill: 0.5, timeouts: {syn_received: 2s}}
table: {capacity: 4096, pickup_midstream: false}
half_open_accounting: {source_prefix_v4: 16, source_prefix_v6: 48, service_capacity: 1024, source_capacity: 2048}
cookies: {key_file: /etc/sg.key, rotation: 10m, window: 32s, mss_v4: [1000, 1460], mss_v6: [1280]}
proxy: {capacity: 100, max_ack_delay: 50ms, default_client_rtt: 10ms, server_timeout: 3s, syn_resend_interval: 1s, zero_window_hold: false, early_segment_buffers: 8, early_segments_per_connection: 2}
reap_half_open_after: 0s
metrics: {enabled: false, listen: "[::1]:9999"}
logging: {level: debug, rate_limit: {per_second: 2.5, burst: 7}}
user: synguard
stats_interval: 5s
)");
  ASSERT_TRUE(r.ok()) << errors(r);
  const DaemonConfig& c = *r.config;
  const engine::ServiceConfig& s = c.engine.protection.services.at(0);
  EXPECT_EQ(s.name, "web");
  EXPECT_EQ(s.addresses.cidrs(true), std::vector<std::string>{"198.51.100.10/32"});
  EXPECT_EQ(s.addresses.cidrs(false), std::vector<std::string>{"2001:db8::10/128"});
  ASSERT_EQ(s.ports.size(), 2U);
  EXPECT_EQ(s.ports[1].first, 8000);
  EXPECT_EQ(s.ports[1].last, 8100);
  EXPECT_EQ(s.mode, engine::ProtectionMode::kAlways);
  EXPECT_TRUE(s.monitor);
  EXPECT_EQ(s.thresholds.half_open_on, 2000U);
  EXPECT_EQ(s.thresholds.half_open_off, 100U);
  EXPECT_DOUBLE_EQ(s.thresholds.syn_rate_on, 9000.5);
  EXPECT_EQ(s.thresholds.hold, seconds(120));
  EXPECT_EQ(s.per_source.max_half_open, 7U);
  EXPECT_EQ(s.per_source.syn_rate, 50U);
  EXPECT_EQ(s.per_source.syn_burst, 80U);
  EXPECT_EQ(s.mss_override, 1400);
  EXPECT_EQ(s.wscale_override, 255);
  EXPECT_EQ(c.queues, 4);
  EXPECT_EQ(c.first_queue, 10);
  EXPECT_TRUE(c.local_mode);
  EXPECT_EQ(c.table, "sg_test");
  EXPECT_FALSE(c.bypass_established);
  EXPECT_FALSE(c.engine.protection.allow.empty());
  EXPECT_EQ(c.engine.protection.deny.cidrs(false), std::vector<std::string>{"2001:db8:bad::/48"});
  EXPECT_TRUE(c.engine.protection.dry_run);
  EXPECT_EQ(c.engine.timeouts.syn_sent, seconds(30));
  EXPECT_EQ(c.engine.timeouts.established, seconds(3600));
  EXPECT_EQ(c.engine.timeouts.time_wait, milliseconds(500));
  EXPECT_EQ(c.engine.timeouts.fin_wait, defaultConfig().engine.timeouts.fin_wait);
  EXPECT_DOUBLE_EQ(c.engine.emergency.enter_fill, 0.8);
  EXPECT_EQ(c.engine.emergency.timeouts.syn_received, seconds(2));
  EXPECT_EQ(c.engine.table_capacity, 4096U);
  EXPECT_FALSE(c.engine.pickup_midstream);
  EXPECT_EQ(c.engine.half_open.source_prefix_v4, 16U);
  EXPECT_EQ(c.engine.half_open.source_capacity, 2048U);
  EXPECT_EQ(c.key_file, "/etc/sg.key");
  EXPECT_EQ(c.engine.protection.key_rotation, seconds(600));
  EXPECT_EQ(c.engine.protection.cookies.window, seconds(32));
  EXPECT_EQ(c.engine.protection.cookies.v4.size, 2);
  EXPECT_EQ(c.engine.protection.cookies.v4.values[1], 1460);
  EXPECT_EQ(c.engine.protection.cookies.v6.values[0], 1280);
  const engine::ProxyConfig& p = c.engine.protection.proxy;
  EXPECT_EQ(p.capacity, 100U);
  EXPECT_EQ(p.max_ack_delay, milliseconds(50));
  EXPECT_EQ(p.default_client_rtt, milliseconds(10));
  EXPECT_EQ(p.server_timeout, seconds(3));
  EXPECT_EQ(p.syn_resend_interval, seconds(1));
  EXPECT_FALSE(p.hold_with_zero_window);
  EXPECT_EQ(p.early_segment_buffers, 8U);
  EXPECT_EQ(p.early_segments_per_connection, 2U);
  EXPECT_EQ(c.engine.protection.reap_half_open_after, milliseconds(0));
  EXPECT_FALSE(c.metrics_enabled);
  EXPECT_EQ(c.metrics_listen, "[::1]:9999");
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_DOUBLE_EQ(c.log_per_second, 2.5);
  EXPECT_EQ(c.log_burst, 7U);
  EXPECT_EQ(c.user, "synguard");
  EXPECT_DOUBLE_EQ(c.stats_interval_seconds, 5.0);
}

TEST(ConfigLoader, TheShippedExampleLoadsWithTheDefaults) {
  const char* dir = std::getenv("SYNGUARD_SOURCE_DIR");
  ASSERT_NE(dir, nullptr);
  const auto r = loadConfigFile(std::string(dir) + "/config/synguard.yaml");
  ASSERT_TRUE(r.ok()) << errors(r);
  const DaemonConfig& c = *r.config;
  const DaemonConfig d = defaultConfig();
  ASSERT_EQ(c.engine.protection.services.size(), 1U);
  const auto& s = c.engine.protection.services[0];
  const engine::ServiceConfig ds;
  EXPECT_EQ(s.thresholds.half_open_on, ds.thresholds.half_open_on);
  EXPECT_EQ(s.thresholds.half_open_off, ds.thresholds.half_open_off);
  EXPECT_EQ(s.thresholds.syn_rate_on, ds.thresholds.syn_rate_on);
  EXPECT_EQ(s.thresholds.hold, ds.thresholds.hold);
  EXPECT_EQ(s.mode, ds.mode);
  // Every other value equals the built-in default: the file documents the defaults.
  for (auto st :
       {engine::TcpState::kSynSent, engine::TcpState::kSynReceived, engine::TcpState::kEstablished,
        engine::TcpState::kFinWait1, engine::TcpState::kCloseWait, engine::TcpState::kClosing,
        engine::TcpState::kLastAck, engine::TcpState::kTimeWait, engine::TcpState::kClosed}) {
    EXPECT_EQ(c.engine.timeouts.forState(st), d.engine.timeouts.forState(st));
    EXPECT_EQ(c.engine.emergency.timeouts.forState(st), d.engine.emergency.timeouts.forState(st))
        << engine::toString(st);
  }
  EXPECT_EQ(c.engine.emergency.enter_fill, d.engine.emergency.enter_fill);
  EXPECT_EQ(c.engine.table_capacity, d.engine.table_capacity);
  EXPECT_EQ(c.engine.pickup_midstream, d.engine.pickup_midstream);
  EXPECT_EQ(c.engine.half_open.source_capacity, d.engine.half_open.source_capacity);
  EXPECT_EQ(c.engine.protection.key_rotation, d.engine.protection.key_rotation);
  EXPECT_EQ(c.engine.protection.cookies.window, d.engine.protection.cookies.window);
  EXPECT_EQ(c.engine.protection.cookies.v4.values, d.engine.protection.cookies.v4.values);
  EXPECT_EQ(c.engine.protection.cookies.v6.values, d.engine.protection.cookies.v6.values);
  EXPECT_EQ(c.engine.protection.proxy.capacity, d.engine.protection.proxy.capacity);
  EXPECT_EQ(c.engine.protection.proxy.max_ack_delay, d.engine.protection.proxy.max_ack_delay);
  EXPECT_EQ(c.engine.protection.proxy.server_timeout, d.engine.protection.proxy.server_timeout);
  EXPECT_EQ(c.engine.protection.reap_half_open_after, d.engine.protection.reap_half_open_after);
  EXPECT_EQ(c.key_file, d.key_file);
  EXPECT_EQ(c.metrics_listen, d.metrics_listen);
  EXPECT_EQ(c.log_level, d.log_level);
  EXPECT_EQ(c.log_burst, d.log_burst);
  EXPECT_EQ(c.queues, d.queues);
  EXPECT_EQ(c.table, d.table);
  EXPECT_EQ(c.user, d.user);
}

TEST(ConfigLoader, DurationsParse) {
  EXPECT_EQ(parseDuration("500ms"), milliseconds(500));
  EXPECT_EQ(parseDuration("30s"), seconds(30));
  EXPECT_EQ(parseDuration("30"), seconds(30));
  EXPECT_EQ(parseDuration("2m"), seconds(120));
  EXPECT_EQ(parseDuration("1h"), seconds(3600));
  EXPECT_EQ(parseDuration("5d"), seconds(5 * 86400));
  for (const char* bad : {"", "s", "-1s", "1.5s", "10 s", "3w", "1e3", "99999999999999999999d"}) {
    EXPECT_FALSE(parseDuration(bad).has_value()) << bad;
  }
}

TEST(ConfigLoader, EveryProblemIsReportedAtOnceWithItsLocation) {
  const auto r = load(R"(services:
  - name: web
    addresses: [198.51.100.0/33, 10.0.0.1]
    ports: [80, 70000, "90-80", http]
    half_open: {on: 500, off: 600}
    syn_rate: {on: 10, off: 10}
    mode: sometimes
    hold: soon
    half_opn: 3
queues: {count: -1}
timeouts: {syn_sent: 0s}
table: {capacity: lots}
dry_run: maybe
metrics: {listen: localhost}
)");
  ASSERT_FALSE(r.ok());
  const std::string e = errors(r);
  EXPECT_NE(e.find("3:17: services[0].addresses[0]: "), std::string::npos) << e;
  EXPECT_NE(e.find("4:17: services[0].ports[1]: 70000 is not a port (1-65535)"), std::string::npos)
      << e;
  EXPECT_NE(e.find("4:24: services[0].ports[2]: range 90-80 ends before it starts"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("4:33: services[0].ports[3]: expected a port or a range like 8000-8100, got "
                   "'http'"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("5:16: services[0].half_open: off (600) must be below on (500)"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("6:15: services[0].syn_rate: off (10) must be below on (10)"), std::string::npos)
      << e;
  EXPECT_NE(e.find("7:11: services[0].mode: expected off, adaptive or always, got 'sometimes'"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("8:11: services[0].hold: expected a duration"), std::string::npos) << e;
  EXPECT_NE(e.find("9:5: unknown key 'services[0].half_opn' (did you mean 'half_open'?)"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("10:17: queues.count: expected a whole number, got '-1'"), std::string::npos)
      << e;
  EXPECT_NE(e.find("11:22: timeouts.syn_sent: 0s is out of range"), std::string::npos) << e;
  EXPECT_NE(e.find("12:19: table.capacity: expected a whole number, got 'lots'"), std::string::npos)
      << e;
  EXPECT_NE(e.find("13:10: dry_run: expected true or false, got 'maybe'"), std::string::npos) << e;
  EXPECT_NE(e.find("14:19: metrics.listen: expected ADDRESS:PORT"), std::string::npos) << e;
  EXPECT_EQ(r.errors.size(), 14U) << e;
  EXPECT_EQ(r.errors[0].toString().rfind("test.yaml:3:17: ", 0), 0U);
}

TEST(ConfigLoader, OverlappingAndDuplicateServices) {
  const auto r = load(std::string(kService) + R"(  - name: api
    addresses: [198.51.100.0/24]
    ports: [8080]
  - name: web
    addresses: [203.0.113.1]
    ports: [22]
  - name: mail
    addresses: [198.51.100.0/24]
    ports: [25]
)");
  ASSERT_FALSE(r.ok());
  const std::string e = errors(r);
  EXPECT_NE(
      e.find("5:5: services[1]: 'api' overlaps service 'web' (an address and a port in both)"),
      std::string::npos)
      << e;
  EXPECT_NE(e.find("8:11: services[2].name: 'web' is already the name of another service"),
            std::string::npos)
      << e;
  EXPECT_EQ(r.errors.size(), 2U) << e;  // mail shares addresses, not ports: fine
}

TEST(ConfigLoader, ServicesNeedNameAddressesAndPorts) {
  const auto r = load(
      "services:\n  - mode: always\n  - name: 'bad name'\n    addresses: []\n"
      "    ports: []\n");
  ASSERT_FALSE(r.ok());
  const std::string e = errors(r);
  EXPECT_NE(e.find("2:5: services[0]: a service needs a name"), std::string::npos) << e;
  EXPECT_NE(e.find("2:5: services[0]: a service needs addresses"), std::string::npos) << e;
  EXPECT_NE(e.find("2:5: services[0]: a service needs ports"), std::string::npos) << e;
  EXPECT_NE(e.find("3:11: services[1].name: use letters"), std::string::npos) << e;
  EXPECT_NE(e.find("4:16: services[1].addresses: empty"), std::string::npos) << e;
  EXPECT_NE(e.find("5:12: services[1].ports: expected a list"), std::string::npos) << e;
}

TEST(ConfigLoader, SyntaxErrorsAndWrongShapesAreLocated) {
  auto r = load("services: [\n  {name: web\n");
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.errors.size(), 1U);
  EXPECT_NE(r.errors[0].message.find("YAML: "), std::string::npos) << errors(r);
  EXPECT_GT(r.errors[0].line, 0);

  r = load("- a\n- b\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(errors(r), "1:1: the configuration: expected a map of keys, got a list\n");

  r = load("queues: 4\nservices: {name: web}\ntimeouts: [1, 2]\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(errors(r),
            "1:9: queues: expected a map of keys, got '4'\n"
            "2:11: services: expected a list of services, got a map\n"
            "3:11: timeouts: expected a map of keys, got a list\n");

  r = load("queues: {count: 1}\nqueues: {count: 2}\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(errors(r).find("duplicate key"), std::string::npos) << errors(r);
}

TEST(ConfigLoader, RangesAndTablesAreChecked) {
  const auto r = load(R"(emergency: {enter_fill: 0.5, leave_fill: 0.6}
cookies: {key_file: relative.key, mss_v4: [1460, 536], mss_v6: [1, 2, 3, 4, 5, 6, 7, 8, 9]}
proxy: {max_ack_delay: 4s, server_timeout: 1s}
half_open_accounting: {source_prefix_v4: 33}
logging: {level: loud}
services:
  - {name: a, addresses: [192.0.2.1], ports: [1], wscale: 15}
)");
  ASSERT_FALSE(r.ok());
  const std::string e = errors(r);
  EXPECT_NE(e.find("emergency: leave_fill must be below enter_fill"), std::string::npos) << e;
  EXPECT_NE(e.find("cookies.key_file: must be an absolute path"), std::string::npos) << e;
  EXPECT_NE(e.find("cookies.mss_v4: values must be in ascending order"), std::string::npos) << e;
  EXPECT_NE(e.find("cookies.mss_v6: expected a list of 1 to 8 MSS values"), std::string::npos) << e;
  EXPECT_NE(e.find("proxy: max_ack_delay must be below server_timeout"), std::string::npos) << e;
  EXPECT_NE(e.find("half_open_accounting.source_prefix_v4: 33 is out of range (1-32)"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("logging.level: expected error, warning"), std::string::npos) << e;
  EXPECT_NE(e.find("services[0].wscale: 15 is out of range (0-14)"), std::string::npos) << e;
}

TEST(ConfigLoader, AnEmptyFileIsAMistakeNotTheDefaults) {
  for (const char* text : {"", "\n  \n", "# just a comment\n# another\n"}) {
    char path[] = "/tmp/sg-empty-XXXXXX";
    const int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, text, std::strlen(text)), static_cast<ssize_t>(std::strlen(text)));
    ::close(fd);
    const auto r = loadConfigFile(path);
    ::unlink(path);
    ASSERT_FALSE(r.ok()) << "'" << text << "'";
    EXPECT_EQ(r.errors[0].line, 1);
    EXPECT_NE(r.errors[0].message.find("the file is empty"), std::string::npos);
  }
}

TEST(ConfigLoader, UnreadableFile) {
  const auto r = loadConfigFile("/nonexistent/synguard.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.errors[0].toString(),
            "/nonexistent/synguard.yaml:0:0: cannot read the configuration file");
}

}  // namespace
}  // namespace synguard::config
