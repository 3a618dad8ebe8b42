#include "daemon/inline/metrics.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <prometheus/text_serializer.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace synguard::daemon {
namespace {

std::string text(const std::vector<prometheus::MetricFamily>& f) {
  std::ostringstream os;
  prometheus::TextSerializer().Serialize(os, f);
  return os.str();
}

bool has(const std::string& t, const std::string& line) {
  return t.find(line + "\n") != std::string::npos;
}

WorkerSnapshot worker(std::uint16_t queue, std::uint32_t half_open, engine::ServiceMode mode) {
  WorkerSnapshot w;
  w.queue = queue;
  w.half_open = half_open;
  w.table = 10;
  w.table_capacity = 1024;
  w.engine.dropped[static_cast<std::size_t>(engine::VerdictReason::kCookieSent)] = 100;
  w.engine.accepted[static_cast<std::size_t>(engine::VerdictReason::kTracked)] = 7;
  w.engine.cookies_rejected[static_cast<std::size_t>(engine::CookieReject::kBadHash)] = 3;
  w.engine.connections_by_state[engine::index(engine::TcpState::kSynSent)] = half_open;
  w.queue_stats.packets = 500;
  w.queue_stats.failed_open = queue;
  ServiceFigures s;
  s.name = "web";
  s.half_open = half_open;
  s.syns = 1000;
  s.cookies_sent = 100;
  s.mode = mode;
  w.services.push_back(s);
  w.processing.record(3000, 10);  // 300 ns a packet
  w.processing.record(20000, 1);  // 20 us
  return w;
}

TEST(Metrics, SumsTheQueuesIntoOneExposition) {
  ReloadCounters reloads;
  reloads.success = 2;
  reloads.failure = 1;
  reloads.last_ok = false;
  const std::vector<WorkerSnapshot> w = {worker(0, 5, engine::ServiceMode::kNormal),
                                         worker(1, 7, engine::ServiceMode::kCookie)};
  const std::vector<KernelQueueStats> k = {{1, 0, 42, 9}};
  const std::string t = text(collectMetrics({"1.2.3", 1700000000}, w, k, reloads));
  EXPECT_TRUE(has(t, "synguard_build_info{version=\"1.2.3\"} 1")) << t;
  EXPECT_TRUE(has(t, "synguard_half_open_connections 12"));
  EXPECT_TRUE(has(t, "synguard_service_half_open_connections{service=\"web\"} 12"));
  EXPECT_TRUE(has(t, "synguard_service_syns_received_total{service=\"web\"} 2000"));
  EXPECT_TRUE(has(t, "synguard_cookies_sent_total{service=\"web\"} 200"));
  // In cookie mode if any queue is.
  EXPECT_TRUE(has(t, "synguard_service_mode{mode=\"cookie\",service=\"web\"} 1"));
  EXPECT_TRUE(has(t, "synguard_service_mode{mode=\"normal\",service=\"web\"} 0"));
  EXPECT_TRUE(has(t, "synguard_cookies_rejected_total{reason=\"bad_hash\"} 6"));
  EXPECT_TRUE(has(t, "synguard_verdicts_total{reason=\"cookie_sent\",verdict=\"drop\"} 200"));
  EXPECT_TRUE(has(t, "synguard_verdicts_total{reason=\"tracked\",verdict=\"accept\"} 14"));
  EXPECT_TRUE(has(t, "synguard_connections{state=\"syn_sent\"} 12"));
  EXPECT_TRUE(has(t, "synguard_table_capacity 2048"));
  EXPECT_TRUE(has(t, "synguard_queue_kernel_drops_total{queue=\"1\"} 42"));
  EXPECT_TRUE(has(t, "synguard_queue_user_drops_total{queue=\"1\"} 9"));
  EXPECT_TRUE(has(t, "synguard_queue_kernel_drops_total{queue=\"0\"} 0"));
  EXPECT_TRUE(has(t, "synguard_queue_failed_open_total{queue=\"1\"} 1"));
  EXPECT_TRUE(has(t, "synguard_config_reloads_total{result=\"failure\"} 1"));
  EXPECT_TRUE(has(t, "synguard_config_last_reload_success 0"));
  // 20 packets at 300 ns (bucket 500 ns), 2 at 20 us (bucket 25 us).
  EXPECT_TRUE(has(t, "synguard_packet_processing_seconds_bucket{le=\"2.5e-07\"} 0"));
  EXPECT_TRUE(has(t, "synguard_packet_processing_seconds_bucket{le=\"5e-07\"} 20"));
  EXPECT_TRUE(has(t, "synguard_packet_processing_seconds_bucket{le=\"1e-05\"} 20"));
  EXPECT_TRUE(has(t, "synguard_packet_processing_seconds_bucket{le=\"2.5e-05\"} 22"));
  EXPECT_TRUE(has(t, "synguard_packet_processing_seconds_bucket{le=\"+Inf\"} 22"));
  EXPECT_TRUE(has(t, "synguard_packet_processing_seconds_count 22"));
  EXPECT_TRUE(has(t, "# TYPE synguard_cookies_sent_total counter"));
  EXPECT_TRUE(has(t, "# TYPE synguard_half_open_connections gauge"));
}

// Families the engine's counter description exports (engine/stats.h): monitor mode, parse
// errors and the proxy, summed over the workers.
TEST(Metrics, ExportsTheDescribedEngineCounters) {
  using engine::VerdictReason;
  const auto idx = [](auto e) { return static_cast<std::size_t>(e); };
  std::vector<WorkerSnapshot> w = {worker(0, 1, engine::ServiceMode::kNormal),
                                   worker(1, 1, engine::ServiceMode::kNormal)};
  for (WorkerSnapshot& x : w) {
    x.engine.would_drop[idx(VerdictReason::kSourceRate)] = 4;
    x.engine.would_cookie = 9;
    x.engine.parse_errors[idx(engine::ParseError::kBadChecksum)] = 2;
    x.engine.proxy_completed = 10;
    x.engine.proxy_refused = 1;
    x.engine.proxy_server_timeout = 2;
    x.engine.proxy_syn_resent = 3;
    x.engine.proxy_duplicate_acks = 4;
    x.engine.proxy_ack_delayed = 5;
    x.engine.proxy_early_kept = 6;
    x.engine.proxy_early_dropped = 7;
    x.engine.proxy_client_aborted = 8;
    x.engine.proxy_rst_ignored = 9;
    x.engine.translated[0] = 100;
    x.engine.translated[1] = 50;
    x.services[0].would_cookie = 9;
    x.services[0].would_drop = 4;
  }
  w[0].engine.key_rotations = 3;  // the same periods in every worker: the most, not the sum
  w[1].engine.key_rotations = 2;
  ReloadCounters reloads;
  const std::string t = text(collectMetrics({"1", 0}, w, {}, reloads));
  EXPECT_TRUE(has(t, "synguard_would_drop_total{reason=\"source_syn_rate\"} 8")) << t;
  EXPECT_TRUE(has(t, "synguard_would_drop_total{reason=\"tracked\"} 0"));
  EXPECT_TRUE(has(t, "# TYPE synguard_would_drop_total counter"));
  EXPECT_TRUE(has(t, "synguard_service_would_cookie_total{service=\"web\"} 18"));
  EXPECT_TRUE(has(t, "synguard_service_would_drop_total{service=\"web\"} 8"));
  EXPECT_TRUE(has(t, "synguard_parse_errors_total{reason=\"bad_checksum\"} 4"));
  EXPECT_TRUE(has(t, "synguard_parse_errors_total{reason=\"empty\"} 0"));
  EXPECT_FALSE(has(t, "synguard_parse_errors_total{reason=\"none\"} 0"));  // never counted
  EXPECT_FALSE(has(t, "synguard_cookies_rejected_total{reason=\"none\"} 0"));
  EXPECT_TRUE(has(t, "synguard_proxied_connections_total 20"));
  EXPECT_TRUE(has(t, "synguard_proxy_refused_total 2"));
  EXPECT_TRUE(has(t, "synguard_proxy_server_timeouts_total 4"));
  EXPECT_TRUE(has(t, "synguard_proxy_syns_resent_total 6"));
  EXPECT_TRUE(has(t, "synguard_proxy_duplicate_acks_total 8"));
  EXPECT_TRUE(has(t, "synguard_proxy_acks_delayed_total 10"));
  EXPECT_TRUE(has(t, "synguard_proxy_early_segments_kept_total 12"));
  EXPECT_TRUE(has(t, "synguard_proxy_early_segments_dropped_total 14"));
  EXPECT_TRUE(has(t, "synguard_proxy_client_aborts_total 16"));
  EXPECT_TRUE(has(t, "synguard_proxy_rsts_ignored_total 18"));
  EXPECT_TRUE(has(t, "synguard_proxy_translated_segments_total{direction=\"to_server\"} 200"));
  EXPECT_TRUE(has(t, "synguard_proxy_translated_segments_total{direction=\"to_client\"} 100"));
  EXPECT_TRUE(has(t, "synguard_cookie_key_rotations_total 3"));
  EXPECT_TRUE(has(t, "synguard_connections{state=\"time_wait\"} 0"));
  EXPECT_TRUE(has(t, "# TYPE synguard_connections gauge"));
}

TEST(Metrics, ReadsTheKernelQueueTable) {
  char path[] = "/tmp/sg-nfq-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  std::ofstream(path) << "    0  12345     3 2 65535   17     4   999  1\n"
                      << "garbage line\n"
                      << "    5  22222     0 2 65535    0     8   100  1\n";
  const auto k = readKernelQueueStats(path);
  ::unlink(path);
  ASSERT_EQ(k.size(), 2U);
  EXPECT_EQ(k[0].queue, 0);
  EXPECT_EQ(k[0].waiting, 3U);
  EXPECT_EQ(k[0].queue_dropped, 17U);
  EXPECT_EQ(k[0].user_dropped, 4U);
  EXPECT_EQ(k[1].queue, 5);
  EXPECT_EQ(k[1].user_dropped, 8U);
  EXPECT_TRUE(readKernelQueueStats("/nonexistent/x").empty());
}

std::string httpGet(int port, const std::string& path) {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {  // NOLINT
    ::close(s);
    return "";
  }
  const std::string req = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
  (void)::send(s, req.data(), req.size(), 0);
  std::string body;
  char buf[4096];
  for (ssize_t n; (n = ::recv(s, buf, sizeof buf, 0)) > 0;) {
    body.append(buf, static_cast<std::size_t>(n));
  }
  ::close(s);
  return body;
}

TEST(Metrics, ServesScrapesAndRefusesABusyPort) {
  ReloadCounters reloads;
  int calls = 0;
  auto m = MetricsExporter::start(
      "127.0.0.1:0", {"9.9", 0},
      [&calls] {
        ++calls;
        return std::vector<WorkerSnapshot>{worker(3, 1, engine::ServiceMode::kNormal)};
      },
      reloads);
  ASSERT_TRUE(m.has_value()) << m.error().message;
  const int port = (*m)->port();
  ASSERT_GT(port, 0);
  const std::string body = httpGet(port, "/metrics");
  EXPECT_NE(body.find("synguard_build_info{version=\"9.9\"} 1"), std::string::npos) << body;
  EXPECT_NE(body.find("synguard_queue_packets_total{queue=\"3\"} 500"), std::string::npos);
  EXPECT_EQ(calls, 1);
  auto busy = MetricsExporter::start(
      "127.0.0.1:" + std::to_string(port), {"9.9", 0}, [] { return std::vector<WorkerSnapshot>{}; },
      reloads);
  ASSERT_FALSE(busy.has_value());
  EXPECT_NE(busy.error().message.find("metrics: cannot listen on 127.0.0.1:"), std::string::npos)
      << busy.error().message;
}

}  // namespace
}  // namespace synguard::daemon

namespace synguard::daemon {
namespace {

TEST(UnprotectedEstimator, NeverOverestimatesAndSurvivesRuleReinstalls) {
  UnprotectedEstimator e;
  // 1000 packets hit the rules: 900 verdicts, 100 waiting: nothing passed without us.
  EXPECT_EQ(e.update(1000, 100, 900), 0U);
  // The queue filled while the daemon stalled: 5000 more hits, 1000 verdicts, 500 waiting.
  EXPECT_EQ(e.update(6000, 500, 1900), 3600U);
  // Noise (more verdicts read than hits, after a burst): the counter never goes back.
  EXPECT_EQ(e.update(6100, 0, 2600), 3600U);
  // The rules were re-installed (reload): their counters restart from 0; the hits before carry.
  EXPECT_EQ(e.update(50, 0, 2650), 3600U);
  EXPECT_EQ(e.ruleHits(), 6150U);
  EXPECT_EQ(e.update(2050, 0, 2650), 5500U);  // 6100 + 2050 - 2650
}

TEST(UnprotectedEstimator, KernelDropsDidNotPass) {
  UnprotectedEstimator e;
  // A full SYN queue without fail-open: of 10000 hits, 3000 got verdicts, 1000 wait, 6000
  // were dropped by the kernel: none passed.
  EXPECT_EQ(e.update(10000, 1000, 3000, 6000), 0U);
  // Then 500 ACKs fail open on a regular queue.
  EXPECT_EQ(e.update(12000, 0, 5500, 6000), 500U);
}

TEST(Metrics, SynQueuesAndOverloadDrops) {
  ReloadCounters reloads;
  std::vector<WorkerSnapshot> w = {worker(0, 5, engine::ServiceMode::kCookie),
                                   worker(1, 7, engine::ServiceMode::kCookie)};
  w[0].syn_queue = 2;
  w[0].syn_queue_drops = true;
  w[0].syn_queue_stats.packets = 11;
  w[1].syn_queue = 3;
  // Queue 0's drops (a fail-open queue never has any) are not SYN drops; queues 2 and 3 are.
  const std::vector<KernelQueueStats> k = {{0, 0, 1, 0}, {2, 0, 40, 2}, {3, 0, 100, 0}};
  const std::string t = text(collectMetrics({"1", 0}, w, k, reloads));
  EXPECT_TRUE(has(t, "synguard_overload_syns_dropped_total 142")) << t;
  EXPECT_TRUE(has(t, "synguard_queue_kernel_drops_total{queue=\"2\"} 40"));
  EXPECT_TRUE(has(t, "synguard_queue_user_drops_total{queue=\"2\"} 2"));
  EXPECT_TRUE(has(t, "synguard_queue_packets_total{queue=\"2\"} 11"));
  EXPECT_TRUE(has(t, "synguard_syn_queue_drops_on_overflow{queue=\"2\"} 1"));
  EXPECT_TRUE(has(t, "synguard_syn_queue_drops_on_overflow{queue=\"3\"} 0"));
}

TEST(Metrics, ExposesTheRuleHitsAndUnprotectedPackets) {
  ReloadCounters reloads;
  std::ostringstream os;
  prometheus::TextSerializer().Serialize(os, collectMetrics({"1", 0}, {}, {}, reloads, 77, 5));
  EXPECT_NE(os.str().find("synguard_queue_rule_packets_total 77\n"), std::string::npos);
  EXPECT_NE(os.str().find("synguard_queue_unprotected_packets_total 5\n"), std::string::npos);
}

TEST(RuleCounterTotals, StayMonotonicAcrossReinstalls) {
  RuleCounterTotals t;
  t.update({{"web", 100}, {"db", 0}});
  t.update({{"web", 600}, {"db", 3}});
  t.restarted();  // a reload re-installs the rules: read first, then the counters start at 0
  t.update({{"web", 0}});
  t.update({{"web", 40}, {"db", 1}});
  t.update({{"web", 5}});  // re-installed without notice (restored after a flush)
  EXPECT_EQ(t.totals(), (RuleCounterTotals::Totals{{"db", 4}, {"web", 645}}));
}

TEST(Metrics, ExposesTheSpoofedSourceDropsPerService) {
  ReloadCounters reloads;
  std::ostringstream os;
  prometheus::TextSerializer().Serialize(
      os, collectMetrics({"1", 0}, {}, {}, reloads, 0, 0, {{"db", 0}, {"web", 600}}));
  EXPECT_NE(os.str().find("synguard_spoofed_service_source_dropped_total{service=\"web\"} 600\n"),
            std::string::npos)
      << os.str();
  EXPECT_NE(os.str().find("synguard_spoofed_service_source_dropped_total{service=\"db\"} 0\n"),
            std::string::npos);
}

TEST(Metrics, ExposesTheXdpFastPathPerInterface) {
  xdp::InterfaceFigures eth0;
  eth0.name = "eth0";
  eth0.mode = xdp::AttachMode::kGeneric;
  eth0.counters[SG_XDP_TX_COOKIE] = 900;
  eth0.counters[SG_XDP_PASS_NOT_SYN] = 40;
  eth0.counters[SG_XDP_DROP_DENIED] = 2;
  eth0.reattaches = 1;
  ReloadCounters reloads;
  const std::string t = text(collectMetrics({"1", 0}, {}, {}, reloads, 0, 0, {}, {eth0}));
  EXPECT_TRUE(
      has(t, R"(synguard_xdp_packets_total{action="tx",interface="eth0",reason="cookie"} 900)"))
      << t;
  EXPECT_TRUE(
      has(t, R"(synguard_xdp_packets_total{action="pass",interface="eth0",reason="not_syn"} 40)"));
  EXPECT_TRUE(
      has(t, R"(synguard_xdp_packets_total{action="drop",interface="eth0",reason="denied"} 2)"));
  EXPECT_TRUE(
      has(t, R"(synguard_xdp_packets_total{action="pass",interface="eth0",reason="overflow"} 0)"))
      << "every reason, zeros too: rate() sees the first one";
  EXPECT_TRUE(has(t, R"(synguard_xdp_attached{interface="eth0",mode="generic"} 1)"));
  EXPECT_TRUE(has(t, R"(synguard_xdp_attached{interface="eth0",mode="native"} 0)"));
  EXPECT_TRUE(has(t, R"(synguard_xdp_reattach_total{interface="eth0"} 1)"));
  // Without XDP the families are there, without samples (the documentation lists them).
  const std::string none = text(collectMetrics({"1", 0}, {}, {}, reloads));
  EXPECT_NE(none.find("# TYPE synguard_xdp_packets_total counter"), std::string::npos) << none;
  EXPECT_EQ(none.find("synguard_xdp_attached{"), std::string::npos);
}

}  // namespace
}  // namespace synguard::daemon
