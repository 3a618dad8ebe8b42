#include "daemon/tune/report.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "daemon/tune/svg.h"

namespace synguard::tune {
namespace {

TuneReport report(bool whatif) {
  ServiceSeries s{"web", {}, {{"10.0.0.0/24", 3, 12}}};
  for (int i = 0; i < 50; ++i) {
    Sample x;
    x.t = 1000 + i;
    x.half_open = i % 7;
    x.syn_rate = 10 + i % 5;
    x.syns = x.syn_rate;
    x.completed = x.syns;
    x.cookie_mode = i == 49;
    s.samples.push_back(x);
  }
  TuneReport r;
  r.origin = "captures: normal.pcap";
  r.sensitivity = Sensitivity::kHigh;
  ServiceReport sr{analyze(s, Sensitivity::kHigh), std::nullopt};
  if (whatif) {
    sr.whatif = WhatIf{0, 0, {{"flood.pcap", 0.25}, {"quiet.pcap", std::nullopt}}};
  }
  r.services.push_back(sr);
  return r;
}

TEST(TuneReport, JsonFollowsTheSchema) {
  const auto j = nlohmann::json::parse(toJson(report(true)));
  EXPECT_EQ(j["origin"], "captures: normal.pcap");
  EXPECT_EQ(j["sensitivity"], "high");
  ASSERT_EQ(j["services"].size(), 1U);
  const auto& s = j["services"][0];
  EXPECT_EQ(s["service"], "web");
  EXPECT_EQ(s["samples"], 50);
  EXPECT_EQ(s["excluded"]["cookie_mode"], 1);
  EXPECT_EQ(s["excluded"]["incomplete"], 0);
  EXPECT_EQ(s["baseline_samples"], 49);
  EXPECT_EQ(s["half_open"]["peak"], 6.0);
  for (const char* k : {"peak", "p50", "p95", "p99", "p999"}) {
    EXPECT_TRUE(s["syn_rate"][k].is_number()) << k;
  }
  EXPECT_TRUE(s["by_hour_of_week"].is_array());
  EXPECT_EQ(s["sources"][0]["prefix"], "10.0.0.0/24");
  EXPECT_EQ(s["sources"][0]["peak_syn_rate"], 12.0);
  EXPECT_EQ(s["suggested"]["half_open"]["on"], 32);
  EXPECT_EQ(s["suggested"]["syn_rate"]["off"], 50);
  EXPECT_EQ(s["suggested"]["hold_seconds"], 10);
  EXPECT_EQ(s["suggested"]["per_source"]["syn_burst"], 54);
  EXPECT_EQ(s["whatif"]["normal"]["mode_changes"], 0);
  EXPECT_EQ(s["whatif"]["normal"]["legit_syns_dropped"], 0);
  EXPECT_EQ(s["whatif"]["attacks"][0]["capture"], "flood.pcap");
  EXPECT_EQ(s["whatif"]["attacks"][0]["seconds_to_cookie"], 0.25);
  EXPECT_TRUE(s["whatif"]["attacks"][1]["seconds_to_cookie"].is_null());
}

TEST(TuneReport, NoWhatIfWithoutCaptures) {
  const auto j = nlohmann::json::parse(toJson(report(false)));
  EXPECT_FALSE(j["services"][0].contains("whatif"));
}

TEST(TuneReport, SuggestedYamlLoads) {
  const YAML::Node y = YAML::Load(suggestedYaml(report(true)));
  ASSERT_TRUE(y["services"].IsSequence());
  const YAML::Node web = y["services"][0];
  EXPECT_EQ(web["name"].as<std::string>(), "web");
  EXPECT_EQ(web["half_open"]["on"].as<int>(), 32);
  EXPECT_EQ(web["hold"].as<std::string>(), "10s");
  EXPECT_EQ(web["per_source"]["syn_rate"].as<int>(), 18);
}

TEST(TuneReport, TextNamesTheExclusionsAndTheWhatIf) {
  std::ostringstream out;
  printText(report(true), out);
  EXPECT_NE(out.str().find("excluded 1 in cookie mode, 0 incomplete"), std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("attack flood.pcap: cookie mode after 0.25 s"), std::string::npos);
  EXPECT_NE(out.str().find("attack quiet.pcap: never reached cookie mode"), std::string::npos);
}

TEST(TuneReport, SvgHasBothPanelsAndTheThresholds) {
  const TuneReport r = report(false);
  ServiceSeries s{"web<&>", {}, {}};
  for (int i = 0; i < 5000; ++i) {
    s.samples.push_back(Sample{double(i), 1, double(i % 7), double(i % 60), 1, 1, false});
  }
  const std::string svg = renderSvg(s, r.services[0].analysis);
  EXPECT_EQ(svg.rfind("<?xml", 0), 0U);
  EXPECT_NE(svg.find("web&lt;&amp;&gt;"), std::string::npos) << "names are escaped";
  EXPECT_NE(svg.find(">on 32<"), std::string::npos);
  EXPECT_NE(svg.find(">off 16<"), std::string::npos);
  EXPECT_NE(svg.find("stroke-dasharray"), std::string::npos);
  std::size_t polylines = 0;
  for (auto at = svg.find("<polyline"); at != std::string::npos;
       at = svg.find("<polyline", at + 1)) {
    ++polylines;
  }
  EXPECT_EQ(polylines, 2U);
  EXPECT_NE(svg.find("SYNs per second"), std::string::npos);
}

}  // namespace
}  // namespace synguard::tune
