#include "daemon/tune/analysis.h"

#include <gtest/gtest.h>

#include <vector>

namespace synguard::tune {
namespace {

Sample sample(double t, double half_open, double syn_rate, double completed = -1,
              bool cookie = false) {
  Sample s;
  s.t = t;
  s.half_open = half_open;
  s.syn_rate = syn_rate;
  s.syns = syn_rate;
  s.completed = completed;
  s.cookie_mode = cookie;
  return s;
}

TEST(TuneAnalysis, CookieModeAndMostlyUncompletedWindowsAreExcluded) {
  EXPECT_EQ(classify(sample(0, 5, 100, 100, true)), Exclusion::kCookieMode);
  EXPECT_EQ(classify(sample(0, 5, 100, 49)), Exclusion::kIncomplete);
  EXPECT_EQ(classify(sample(0, 5, 100, 50)), Exclusion::kNone) << "half completed is enough";
  EXPECT_EQ(classify(sample(0, 5, 19, 0)), Exclusion::kNone) << "below the SYN floor";
  EXPECT_EQ(classify(sample(0, 5, 1000, -1)), Exclusion::kNone) << "completions not known";
}

TEST(TuneAnalysis, PercentilesAreNearestRank) {
  std::vector<double> v;
  for (int i = 1000; i >= 1; --i) {
    v.push_back(i);
  }
  const Percentiles p = percentiles(v);
  EXPECT_EQ(p.peak, 1000);
  EXPECT_EQ(p.p50, 500);
  EXPECT_EQ(p.p95, 950);
  EXPECT_EQ(p.p99, 990);
  EXPECT_EQ(p.p999, 999);
  EXPECT_EQ(percentiles({}).peak, 0);
  EXPECT_EQ(percentiles({7}).p50, 7);
}

TEST(TuneAnalysis, AnAttackInTheHistoryDoesNotRaiseTheBaseline) {
  ServiceSeries s{"web", {}, {}};
  for (int i = 0; i < 1000; ++i) {
    s.samples.push_back(sample(i, 400 + (i % 100), 300, 300));
  }
  // An attack the thresholds caught (cookie mode), and one they missed (few completions).
  for (int i = 1000; i < 1020; ++i) {
    s.samples.push_back(sample(i, 50000, 90000, 10, true));
  }
  for (int i = 1020; i < 1030; ++i) {
    s.samples.push_back(sample(i, 3000, 4000, 100));
  }
  const ServiceAnalysis a = analyze(s, Sensitivity::kMedium);
  EXPECT_EQ(a.samples, 1030U);
  EXPECT_EQ(a.excluded_cookie, 20U);
  EXPECT_EQ(a.excluded_incomplete, 10U);
  EXPECT_EQ(a.baseline, 1000U);
  EXPECT_EQ(a.half_open.peak, 499);
  EXPECT_EQ(a.half_open.p999, 499);
  // Medium: on = max(2 x p99.9, 1.5 x peak, 64) = 998; off = half of it.
  EXPECT_EQ(a.suggested.half_open_on, 998U);
  EXPECT_EQ(a.suggested.half_open_off, 499U);
  EXPECT_EQ(a.suggested.syn_rate_on, 600U);
  EXPECT_EQ(a.suggested.syn_rate_off, 300U);
}

TEST(TuneAnalysis, QuietServicesGetTheFloorsAndSensitivityOrdersTheMargins) {
  ServiceSeries s{"quiet", {}, {}};
  for (int i = 0; i < 100; ++i) {
    s.samples.push_back(sample(i, 2, 3, 3));
  }
  const ServiceAnalysis low = analyze(s, Sensitivity::kLow);
  const ServiceAnalysis med = analyze(s, Sensitivity::kMedium);
  const ServiceAnalysis high = analyze(s, Sensitivity::kHigh);
  EXPECT_EQ(med.suggested.half_open_on, 64U);
  EXPECT_EQ(med.suggested.syn_rate_on, 200U);
  EXPECT_GT(low.suggested.half_open_on, med.suggested.half_open_on);
  EXPECT_GT(med.suggested.half_open_on, high.suggested.half_open_on);
  EXPECT_GT(low.suggested.hold_seconds, high.suggested.hold_seconds);
  EXPECT_LT(high.suggested.half_open_off, high.suggested.half_open_on);
}

TEST(TuneAnalysis, HoldFollowsTheLongestBurst) {
  ServiceSeries s{"web", {}, {}};
  for (int i = 0; i < 3000; ++i) {
    const bool burst = i >= 1000 && i < 1025;  // 25 s well above the rest
    s.samples.push_back(sample(i, burst ? 80 : 10, burst ? 500 : 50, burst ? 500 : 50));
  }
  const ServiceAnalysis a = analyze(s, Sensitivity::kMedium);
  EXPECT_EQ(a.longest_burst_seconds, 25);
  EXPECT_EQ(a.suggested.hold_seconds, 50U) << "2 x the longest burst (medium)";
  EXPECT_EQ(analyze(s, Sensitivity::kHigh).suggested.hold_seconds, 38U) << "1.5 x, rounded up";
}

TEST(TuneAnalysis, HourOfWeekStartsOnMondayUtc) {
  EXPECT_EQ(hourOfWeek(0), 72) << "1970-01-01 00:00 UTC was a Thursday";
  EXPECT_EQ(hourOfWeek(4 * 86400.0), 0) << "Monday 1970-01-05 00:00 UTC";
  EXPECT_EQ(hourOfWeek(4 * 86400.0 - 1), 167);
}

TEST(TuneAnalysis, ByHourOfWeekOnlyForAWeekOfHistory) {
  ServiceSeries s{"web", {}, {}};
  for (int i = 0; i < 7 * 24 * 60; ++i) {  // a week at one window a minute from Monday 00:00
    // The first hour of each day is the busy one.
    Sample x = sample(4 * 86400.0 + i * 60.0, i % 1440 < 60 ? 9 : 1, 1, 1);
    x.width = 60;
    s.samples.push_back(x);
  }
  ServiceSeries six = s;
  six.samples.resize(6 * 24 * 60);
  EXPECT_TRUE(analyze(six, Sensitivity::kMedium).by_hour.empty());
  const ServiceAnalysis a = analyze(s, Sensitivity::kMedium);
  ASSERT_EQ(a.by_hour.size(), 168U);
  EXPECT_EQ(a.by_hour[0].hour, 0);
  EXPECT_EQ(a.by_hour[0].half_open_p99, 9);
  EXPECT_EQ(a.by_hour[1].half_open_p99, 1);
  EXPECT_EQ(a.by_hour[144].half_open_p99, 9) << "Sunday 00:00";
  EXPECT_GT(a.by_hour[0].samples, 0U);

  // An hour whose every window was in cookie mode keeps its row, with no baseline in it.
  ServiceSeries attacked = s;
  for (Sample& x : attacked.samples) {
    if (hourOfWeek(x.t) == 5) {
      x.cookie_mode = true;
      x.half_open = 5000;
    }
  }
  const ServiceAnalysis b = analyze(attacked, Sensitivity::kMedium);
  ASSERT_EQ(b.by_hour.size(), 168U);
  EXPECT_EQ(b.by_hour[5].samples, 0U);
  EXPECT_EQ(b.by_hour[5].half_open_p99, 0);
  EXPECT_GT(b.by_hour[6].samples, 0U);
}

TEST(TuneAnalysis, PerSourceLimitsFromTheBusiestPrefixes) {
  ServiceSeries s{"web", {sample(0, 10, 40, 40)}, {}};
  for (int i = 0; i < 15; ++i) {
    s.sources.push_back({"10.0." + std::to_string(i) + ".0/24", double(i % 8), double(i * 2)});
  }
  const ServiceAnalysis a = analyze(s, Sensitivity::kMedium);
  ASSERT_EQ(a.sources.size(), 10U) << "top 10";
  EXPECT_EQ(a.sources[0].peak_half_open, 7);
  EXPECT_EQ(a.sources[0].prefix, "10.0.7.0/24");
  EXPECT_EQ(a.suggested.source_half_open, 16U) << "max(2 x 7, floor 16)";
  EXPECT_EQ(a.suggested.source_syn_rate, 56U) << "2 x 28";
  EXPECT_EQ(a.suggested.source_syn_burst, 224U) << "4 x the rate";
  ServiceSeries none{"web", {sample(0, 10, 40, 40)}, {}};
  EXPECT_EQ(analyze(none, Sensitivity::kMedium).suggested.source_half_open, 0U)
      << "no per-source data, no limit";
}

TEST(TuneAnalysis, SensitivityNames) {
  Sensitivity s = Sensitivity::kMedium;
  EXPECT_TRUE(parseSensitivity("low", s));
  EXPECT_EQ(s, Sensitivity::kLow);
  EXPECT_TRUE(parseSensitivity("high", s));
  EXPECT_EQ(toString(s), "high");
  EXPECT_FALSE(parseSensitivity("extreme", s));
  EXPECT_FALSE(parseSensitivity("", s));
}

}  // namespace
}  // namespace synguard::tune
