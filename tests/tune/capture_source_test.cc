#include "daemon/tune/capture_source.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "daemon/tune/analysis.h"

namespace synguard::tune {
namespace {

engine::EngineConfig webConfig(std::uint32_t half_open_on, double syn_rate_on) {
  engine::ServiceConfig s;
  s.name = "web";
  EXPECT_TRUE(s.addresses.add("198.51.100.10/32").has_value());
  s.ports = {{80, 80}};
  s.thresholds.half_open_on = half_open_on;
  s.thresholds.half_open_off = half_open_on / 2;
  s.thresholds.syn_rate_on = syn_rate_on;
  s.thresholds.syn_rate_off = syn_rate_on / 2;
  engine::EngineConfig cfg;
  cfg.table_capacity = 1 << 14;
  cfg.protection.services.push_back(s);
  return cfg;
}

double total(const ServiceSeries& s, double Sample::*field) {
  double sum = 0;
  for (const Sample& x : s.samples) {
    sum += x.*field;
  }
  return sum;
}

TEST(TuneCaptureSource, NormalConnectionsAreSampledEverySecondAndCompleted) {
  CaptureRun run;
  std::string error;
  ASSERT_TRUE(
      replayCapture("tests/data/handshake_and_close.pcap", webConfig(1000, 5000), run, error))
      << error;
  ASSERT_EQ(run.services.size(), 1U);
  const ServiceSeries& web = run.services[0];
  EXPECT_EQ(run.syns[0], 5U);
  EXPECT_TRUE(hasServiceTraffic(run));
  EXPECT_EQ(total(web, &Sample::syns), 5);
  EXPECT_EQ(total(web, &Sample::completed), 5);
  ASSERT_FALSE(web.samples.empty());
  EXPECT_EQ(web.samples.size(),
            static_cast<std::size_t>(std::floor(run.last_ts) - std::floor(run.first_ts)) + 1)
      << "one window per second, idle ones included";
  for (std::size_t i = 1; i < web.samples.size(); ++i) {
    EXPECT_EQ(web.samples[i].t, web.samples[i - 1].t + 1);
  }
  EXPECT_EQ(run.mode_changes[0], 0U);
  EXPECT_FALSE(run.seconds_to_cookie[0]);
  ASSERT_EQ(web.sources.size(), 1U);
  EXPECT_EQ(web.sources[0].prefix, "192.0.2.0/24");
  EXPECT_GE(web.sources[0].peak_half_open, 1);
}

TEST(TuneCaptureSource, AFloodIsSeenInCookieModeAndItsSourcesAreNotKept) {
  CaptureRun run;
  std::string error;
  ASSERT_TRUE(replayCapture("tests/data/syn_flood.pcap", webConfig(1000, 5000), run, error));
  const ServiceSeries& web = run.services[0];
  EXPECT_EQ(run.syns[0], 2002U);
  EXPECT_EQ(total(web, &Sample::syns), 2002);
  EXPECT_EQ(total(web, &Sample::completed), 2);
  ASSERT_TRUE(run.seconds_to_cookie[0]);
  EXPECT_LT(*run.seconds_to_cookie[0], 1.0);
  EXPECT_TRUE(std::any_of(web.samples.begin(), web.samples.end(),
                          [](const Sample& s) { return s.cookie_mode && s.half_open >= 1000; }));
  EXPECT_TRUE(std::none_of(web.sources.begin(), web.sources.end(), [](const SourceLoad& l) {
    return l.prefix == "203.0.113.0/24";
  })) << "the flood's window is not in the baseline";
}

TEST(TuneCaptureSource, AFloodBelowTheThresholdsIsAnIncompleteWindow) {
  CaptureRun run;
  std::string error;
  ASSERT_TRUE(replayCapture("tests/data/syn_flood.pcap", webConfig(1000000, 1000000), run, error));
  EXPECT_FALSE(run.seconds_to_cookie[0]);
  const auto& samples = run.services[0].samples;
  EXPECT_TRUE(std::any_of(samples.begin(), samples.end(),
                          [](const Sample& s) { return classify(s) == Exclusion::kIncomplete; }));
}

TEST(TuneCaptureSource, UnreadableAndUnrelatedCaptures) {
  CaptureRun run;
  std::string error;
  EXPECT_FALSE(replayCapture("tests/data/no-such.pcap", webConfig(1000, 5000), run, error));
  EXPECT_NE(error.find("no-such.pcap"), std::string::npos) << error;
  ASSERT_TRUE(replayCapture("tests/data/rst_refused.pcap", webConfig(1000, 5000), run, error));
  EXPECT_FALSE(hasServiceTraffic(run)) << "port 81 is not the service's";
}

TEST(TuneCaptureSource, RunsMergePerServiceInTimeOrder) {
  CaptureRun a;
  CaptureRun b;
  std::string error;
  ASSERT_TRUE(replayCapture("tests/data/syn_flood.pcap", webConfig(1000, 5000), a, error));
  ASSERT_TRUE(
      replayCapture("tests/data/handshake_and_close.pcap", webConfig(1000, 5000), b, error));
  History h;
  mergeRuns({a, b}, h);
  ASSERT_EQ(h.services.size(), 1U);
  EXPECT_EQ(h.services[0].samples.size(),
            a.services[0].samples.size() + b.services[0].samples.size());
  EXPECT_TRUE(std::is_sorted(h.services[0].samples.begin(), h.services[0].samples.end(),
                             [](const Sample& x, const Sample& y) { return x.t < y.t; }));
}

}  // namespace
}  // namespace synguard::tune
