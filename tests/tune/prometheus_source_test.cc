// The Prometheus source without a Prometheus server: chunks, URLs, answers as JSON texts, the
// merge into samples, and the errors of a server that is not there or does not answer. The
// real server is tests/tune/prometheus_history.sh.
#include "daemon/tune/prometheus_source.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>

#include "daemon/tune/prometheus_range.h"

namespace synguard::tune {
namespace {

using prometheus::Chunk;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr std::int64_t kStep = 60'000;
constexpr std::int64_t kT0 = 1'764'000'000'000;  // a multiple of 60 s

TEST(PrometheusRange, FourteenDaysAtAMinuteIsTwoChunks) {
  // 14 d at 60 s = 20,160 points: one chunk of 11,000 (Prometheus's limit) and one of 9,160.
  const auto chunks = prometheus::splitRange(kT0 + kStep, kT0 + 20'160 * kStep, kStep);
  ASSERT_EQ(chunks.size(), 2U);
  EXPECT_EQ(chunks[0].start_ms, kT0 + kStep);
  EXPECT_EQ(chunks[0].end_ms, kT0 + 11'000 * kStep);
  EXPECT_EQ(chunks[1].start_ms, kT0 + 11'001 * kStep);
  EXPECT_EQ(chunks[1].end_ms, kT0 + 20'160 * kStep);
}

TEST(PrometheusRange, ChunksCoverEveryPointOnce) {
  const auto chunks = prometheus::splitRange(0, 25 * kStep, kStep, 10);  // 26 points
  ASSERT_EQ(chunks.size(), 3U);
  std::int64_t points = 0;
  std::int64_t next = 0;
  for (const auto& c : chunks) {
    EXPECT_EQ(c.start_ms, next);
    EXPECT_LE((c.end_ms - c.start_ms) / kStep + 1, 10);
    points += (c.end_ms - c.start_ms) / kStep + 1;
    next = c.end_ms + kStep;
  }
  EXPECT_EQ(points, 26);
}

TEST(PrometheusRange, ExactlyTheLimitIsOneChunkAndAnEndOffTheGridIsCut) {
  EXPECT_EQ(prometheus::splitRange(0, 10'999 * kStep, kStep).size(), 1U);
  EXPECT_EQ(prometheus::splitRange(0, 11'000 * kStep, kStep).size(), 2U);
  const auto chunks = prometheus::splitRange(0, 3 * kStep + 59'999, kStep);
  ASSERT_EQ(chunks.size(), 1U);
  EXPECT_EQ(chunks[0].end_ms, 3 * kStep);
  EXPECT_TRUE(prometheus::splitRange(kStep, 0, kStep).empty());
  EXPECT_TRUE(prometheus::splitRange(0, kStep, 0).empty());
}

TEST(PrometheusRange, UrlEncodesTheQuery) {
  const auto url = prometheus::rangeUrl("http://127.0.0.1:9090/",
                                        "max by (service) (synguard_service_mode{mode=\"cookie\"})",
                                        Chunk{kT0, kT0 + 500}, 1500);
  EXPECT_EQ(url,
            "http://127.0.0.1:9090/api/v1/query_range?query=max%20by%20%28service%29%20%28"
            "synguard_service_mode%7Bmode%3D%22cookie%22%7D%29&start=1764000000&end=1764000000.500"
            "&step=1.500");
}

TEST(PrometheusRange, QueriesOfTheContract) {
  const auto q = prometheus::queriesFor(kStep);
  EXPECT_EQ(q.half_open, "max by (service) (synguard_service_half_open_connections)");
  EXPECT_EQ(q.syn_rate, "max by (service) (rate(synguard_service_syns_received_total[1m]))");
  EXPECT_EQ(q.completed_rate,
            "max by (service) (rate(synguard_service_handshakes_completed_total[1m]))");
  EXPECT_EQ(q.cookie_mode, "max by (service) (synguard_service_mode{mode=\"cookie\"})");
  EXPECT_THAT(prometheus::queriesFor(90'000).syn_rate, HasSubstr("[90s]"));
}

TEST(PrometheusMatrix, PointsPerServiceWithoutNaNOrInf) {
  const std::string body = R"({"status":"success","data":{"resultType":"matrix","result":[
      {"metric":{"service":"web"},"values":[[1764000060,"12"],[1764000120,"NaN"],
                                            [1764000180,"+Inf"],[1764000240,"3.5"]]},
      {"metric":{"service":"ssh"},"values":[[1764000060.5,"0"]]}]}})";
  prometheus::Points points;
  std::string error;
  ASSERT_TRUE(prometheus::parseMatrix(body, points, error)) << error;
  ASSERT_EQ(points.size(), 2U);
  EXPECT_THAT(points["web"],
              ElementsAre(std::pair<const std::int64_t, double>{1764000060000, 12},
                          std::pair<const std::int64_t, double>{1764000240000, 3.5}));
  EXPECT_THAT(points["ssh"], ElementsAre(std::pair<const std::int64_t, double>{1764000060500, 0}));
}

TEST(PrometheusMatrix, EmptyResultIsNoPoints) {
  prometheus::Points points;
  std::string error;
  ASSERT_TRUE(prometheus::parseMatrix(
      R"({"status":"success","data":{"resultType":"matrix","result":[]}})", points, error));
  EXPECT_TRUE(points.empty());
}

TEST(PrometheusMatrix, PrometheusErrorSaysTypeAndMessage) {
  prometheus::Points points;
  std::string error;
  EXPECT_FALSE(prometheus::parseMatrix(
      R"j({"status":"error","errorType":"bad_data","error":"exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"})j",
      points, error));
  EXPECT_EQ(error,
            "Prometheus error (bad_data): exceeded maximum resolution of 11,000 points per "
            "timeseries. Try decreasing the query resolution (?step=XX)");
}

TEST(PrometheusMatrix, MalformedAnswersAreErrorsNotCrashes) {
  const std::pair<const char*, const char*> cases[] = {
      {"<html>404</html>", "malformed answer: not JSON"},
      {R"({"status":"success"})", "malformed answer: no \"status\":\"success\" with \"data\""},
      {R"({"status":"success","data":{"resultType":"vector","result":[]}})",
       "malformed answer: the result is not a matrix"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{}}]}})",
       "malformed answer: a series without \"values\""},
      {R"([1,2])", "malformed answer: not JSON"},
  };
  for (const auto& [body, want] : cases) {
    prometheus::Points points;
    std::string error;
    EXPECT_FALSE(prometheus::parseMatrix(body, points, error)) << body;
    EXPECT_EQ(error, want) << body;
  }
  // Points of the wrong shape are skipped, not fatal.
  prometheus::Points points;
  std::string error;
  EXPECT_TRUE(prometheus::parseMatrix(
      R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{"service":"w"},
          "values":[[1,2],["x","1"],[5],[7,"1x"],[9,"4"]]}]}})",
      points, error));
  EXPECT_THAT(points["w"], ElementsAre(std::pair<const std::int64_t, double>{9000, 4}));
}

TEST(PrometheusMerge, SamplesFromTheFourQueries) {
  prometheus::QueryPoints p;
  const std::int64_t t1 = kT0 + kStep;
  const std::int64_t t2 = kT0 + 2 * kStep;
  const std::int64_t t3 = kT0 + 3 * kStep;
  p.half_open["web"] = {{t1, 10}, {t2, 900}, {t3, 12}};
  p.syn_rate["web"] = {{t1, 2}, {t2, 200}, {t3, 3}};  // per second
  p.completed_rate["web"] = {{t1, 2}, {t3, 3}};       // absent at t2
  p.cookie_mode["web"] = {{t1, 0}, {t2, 1}, {t3, 0}};
  p.half_open["other"] = {{t1, 5}};  // not configured
  p.syn_rate["other"] = {{t1, 5}};
  const auto series = prometheus::mergeSamples(p, {"web", "ssh"}, kStep);
  ASSERT_EQ(series.size(), 1U);  // ssh has no series; other is not asked for
  EXPECT_EQ(series[0].service, "web");
  ASSERT_EQ(series[0].samples.size(), 3U);
  const auto& s = series[0].samples;
  EXPECT_DOUBLE_EQ(s[0].t, static_cast<double>(kT0) / 1000);  // the window (t - step, t]
  EXPECT_DOUBLE_EQ(s[0].width, 60);
  EXPECT_DOUBLE_EQ(s[0].half_open, 10);
  EXPECT_DOUBLE_EQ(s[0].syn_rate, 2);
  EXPECT_DOUBLE_EQ(s[0].syns, 120);
  EXPECT_DOUBLE_EQ(s[0].completed, 120);
  EXPECT_FALSE(s[0].cookie_mode);
  EXPECT_DOUBLE_EQ(s[1].completed, -1);  // not known
  EXPECT_TRUE(s[1].cookie_mode);
  EXPECT_DOUBLE_EQ(s[1].syns, 12'000);
  EXPECT_FALSE(s[2].cookie_mode);
}

TEST(PrometheusMerge, NeedsHalfOpenAndSynRateAtTheSameTime) {
  prometheus::QueryPoints p;
  p.half_open["web"] = {{kT0, 1}, {kT0 + kStep, 2}};
  p.syn_rate["web"] = {{kT0 + kStep, 4}};  // rate() has no point at a series' first scrape
  const auto series = prometheus::mergeSamples(p, {"web"}, kStep);
  ASSERT_EQ(series.size(), 1U);
  ASSERT_EQ(series[0].samples.size(), 1U);
  EXPECT_DOUBLE_EQ(series[0].samples[0].half_open, 2);
  EXPECT_FALSE(series[0].samples[0].cookie_mode);  // no mode series: not cookie
  p.syn_rate["web"].clear();
  EXPECT_TRUE(prometheus::mergeSamples(p, {"web"}, kStep).empty());
}

TEST(PrometheusDuration, FormatsWholeUnits) {
  EXPECT_EQ(prometheus::formatSeconds(14 * 86400), "14d");
  EXPECT_EQ(prometheus::formatSeconds(36 * 3600), "36h");
  EXPECT_EQ(prometheus::formatSeconds(60), "1m");
  EXPECT_EQ(prometheus::formatSeconds(90), "90s");
}

// A TCP port on 127.0.0.1 that is listening (when `listening`) but never accepts or answers, or
// that was bound and closed (nothing listens: connection refused).
class LocalPort {
 public:
  explicit LocalPort(bool listening) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    // NOLINTBEGIN(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), len), 0);
    EXPECT_EQ(getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    // NOLINTEND(cppcoreguidelines-pro-type-reinterpret-cast)
    port_ = ntohs(addr.sin_port);
    if (listening) {
      EXPECT_EQ(listen(fd_, 8), 0);
    } else {
      close(fd_);
      fd_ = -1;
    }
  }
  ~LocalPort() {
    if (fd_ >= 0) {
      close(fd_);
    }
  }
  LocalPort(const LocalPort&) = delete;
  LocalPort& operator=(const LocalPort&) = delete;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_;
  int port_ = 0;
};

PrometheusQuery queryOf(const std::string& url) {
  PrometheusQuery q;
  q.url = url;
  q.since_seconds = 3600;
  q.end = static_cast<double>(kT0) / 1000;
  q.timeout_seconds = 1;
  q.services = {"web"};
  return q;
}

TEST(PrometheusSource, ConnectionRefusedIsAClearError) {
  const LocalPort closed(false);
  History history;
  std::string error;
  EXPECT_FALSE(loadPrometheusHistory(queryOf(closed.url()), history, error));
  EXPECT_THAT(error, StartsWith("cannot query Prometheus at " + closed.url() + ": "));
  EXPECT_THAT(error, HasSubstr("Couldn't connect to server"));
  EXPECT_TRUE(history.services.empty());
}

TEST(PrometheusSource, NoAnswerTimesOut) {
  const LocalPort silent(true);  // the kernel completes the handshake; nobody reads or answers
  History history;
  std::string error;
  EXPECT_FALSE(loadPrometheusHistory(queryOf(silent.url()), history, error));
  EXPECT_THAT(error, StartsWith("cannot query Prometheus at " + silent.url() + ": "));
  EXPECT_THAT(error, HasSubstr("Timeout was reached"));
}

TEST(PrometheusSource, UnresolvableHostIsAClearError) {
  History history;
  std::string error;
  // RFC 6761 §6.4: .invalid names never resolve.
  EXPECT_FALSE(loadPrometheusHistory(queryOf("http://prometheus.invalid:9090"), history, error));
  EXPECT_THAT(error, StartsWith("cannot query Prometheus at http://prometheus.invalid:9090: "));
  EXPECT_THAT(error, HasSubstr("resolve"));
}

TEST(PrometheusSource, BadQueriesAreRefusedBeforeAnyRequest) {
  History history;
  std::string error;
  auto q = queryOf("http://127.0.0.1:1");
  q.step_seconds = 0.5;
  EXPECT_FALSE(loadPrometheusHistory(q, history, error));
  EXPECT_EQ(error, "--step: at least 1s");
  q = queryOf("http://127.0.0.1:1");
  q.since_seconds = 30;
  EXPECT_FALSE(loadPrometheusHistory(q, history, error));
  EXPECT_EQ(error, "--since: at least one step (1m)");
  q = queryOf("");
  EXPECT_FALSE(loadPrometheusHistory(q, history, error));
  EXPECT_EQ(error, "--prometheus: an empty URL");
}

}  // namespace
}  // namespace synguard::tune
