#include "daemon/tune/config_edit.h"

#include <gtest/gtest.h>

#include <string>

#include "config/loader.h"

namespace synguard::tune {
namespace {

Suggestion suggestion() {
  Suggestion s;
  s.half_open_on = 64;
  s.half_open_off = 32;
  s.syn_rate_on = 200;
  s.syn_rate_off = 100;
  s.hold_seconds = 45;
  s.source_half_open = 16;
  s.source_syn_rate = 62;
  s.source_syn_burst = 248;
  return s;
}

std::string edited(const std::string& text, const Suggestions& sug) {
  std::string out;
  std::string error;
  EXPECT_TRUE(editConfigText(text, sug, out, error)) << error;
  return out;
}

const engine::ServiceConfig& loadedService(const std::string& text, std::size_t i) {
  static config::LoadResult r;
  r = config::loadConfigString(text, "edited.yaml");
  EXPECT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].toString()) << "\n" << text;
  static engine::ServiceConfig none;
  return r.ok() ? r.config->engine.protection.services.at(i) : none;
}

constexpr const char* kFlow =
    "# the gateway's services\n"
    "services:\n"
    "  - name: web  # the shop\n"
    "    addresses: [198.51.100.10/32]\n"
    "    ports: [80, 443]\n"
    "    # thresholds below\n"
    "    half_open: {on: 1000, off: 500}   # a guess\n"
    "    syn_rate: {on: 5000, off: 2000}\n"
    "    hold: 30s # long enough\n"
    "    per_source: {half_open: 0, syn_rate: 0, syn_burst: 0}\n"
    "  - name: mail\n"
    "    addresses: [198.51.100.20/32]\n"
    "    ports: [25]\n"
    "    half_open: {on: 1000, off: 500}\n";

TEST(TuneConfigEdit, FlowValuesAreReplacedInPlaceAndCommentsKept) {
  const std::string out = edited(kFlow, {{"web", suggestion()}});
  EXPECT_NE(out.find("    half_open: {on: 64, off: 32}   # a guess\n"), std::string::npos) << out;
  EXPECT_NE(out.find("    syn_rate: {on: 200, off: 100}\n"), std::string::npos);
  EXPECT_NE(out.find("    hold: 45s # long enough\n"), std::string::npos);
  EXPECT_NE(out.find("    per_source: {half_open: 16, syn_rate: 62, syn_burst: 248}\n"),
            std::string::npos);
  EXPECT_NE(out.find("# the gateway's services\n"), std::string::npos);
  EXPECT_NE(out.find("  - name: web  # the shop\n"), std::string::npos);
  EXPECT_NE(out.find("    half_open: {on: 1000, off: 500}\n"), std::string::npos)
      << "mail has no suggestion: untouched";
  const engine::ServiceConfig& web = loadedService(out, 0);
  EXPECT_EQ(web.thresholds.half_open_on, 64U);
  EXPECT_EQ(web.thresholds.syn_rate_off, 100);
  EXPECT_EQ(web.thresholds.hold, std::chrono::seconds(45));
  EXPECT_EQ(web.per_source.syn_burst, 248U);
}

TEST(TuneConfigEdit, BlockValuesAndMissingKeysKeepTheServicesIndentation) {
  const std::string text =
      "services:\n"
      "    - name: web\n"
      "      addresses: [198.51.100.10/32]\n"
      "      ports: [80]\n"
      "      half_open:\n"
      "        on: 1000   # too high\n"
      "      mode: adaptive\n";
  const std::string out = edited(text, {{"web", suggestion()}});
  EXPECT_NE(out.find("        on: 64   # too high\n        off: 32\n"), std::string::npos) << out;
  EXPECT_NE(out.find("    - name: web\n      syn_rate: {on: 200, off: 100}\n"), std::string::npos)
      << out;
  EXPECT_NE(out.find("\n      hold: 45s\n"), std::string::npos) << out;
  EXPECT_NE(out.find("\n      per_source: {half_open: 16, syn_rate: 62, syn_burst: 248}\n"),
            std::string::npos);
  const engine::ServiceConfig& web = loadedService(out, 0);
  EXPECT_EQ(web.thresholds.half_open_on, 64U);
  EXPECT_EQ(web.thresholds.half_open_off, 32U);
  EXPECT_EQ(web.thresholds.syn_rate_on, 200);
  EXPECT_EQ(web.per_source.max_half_open, 16U);
}

TEST(TuneConfigEdit, NoPerSourceFiguresLeavePerSourceAlone) {
  Suggestion s = suggestion();
  s.source_half_open = 0;
  const std::string out = edited(kFlow, {{"web", s}});
  EXPECT_NE(out.find("per_source: {half_open: 0, syn_rate: 0, syn_burst: 0}"), std::string::npos);
}

TEST(TuneConfigEdit, OneLineServicesAndBrokenYamlAreRefused) {
  std::string out;
  std::string error;
  EXPECT_FALSE(editConfigText("services:\n  - {name: web, ports: [80]}\n", {{"web", suggestion()}},
                              out, error));
  EXPECT_NE(error.find("flow mapping"), std::string::npos) << error;
  EXPECT_FALSE(editConfigText("services: [\n", {{"web", suggestion()}}, out, error));
}

TEST(TuneDiff, HunksHaveThreeLinesOfContextAndExactHeaders) {
  std::string a;
  for (int i = 1; i <= 20; ++i) {
    a += "line " + std::to_string(i) + "\n";
  }
  std::string b = a;
  b.replace(b.find("line 5\n"), 7, "line five\n");
  b.insert(b.find("line 15\n"), "new line\n");
  EXPECT_EQ(unifiedDiff(a, b, "x.yaml"),
            "--- a/x.yaml\n+++ b/x.yaml\n"
            "@@ -2,7 +2,7 @@\n line 2\n line 3\n line 4\n-line 5\n+line five\n line 6\n line 7\n"
            " line 8\n"
            "@@ -12,6 +12,7 @@\n line 12\n line 13\n line 14\n+new line\n line 15\n line 16\n"
            " line 17\n");
  EXPECT_EQ(unifiedDiff(a, a, "x.yaml"), "");
}

TEST(TuneDiff, CloseChangesShareAHunkAndTheFirstLineCounts) {
  const std::string a = "a\nb\nc\nd\ne\nf\ng\nh\n";
  const std::string b = "A\nb\nc\nd\ne\nf\ng\nH\n";
  EXPECT_EQ(unifiedDiff(a, b, "f"),
            "--- a/f\n+++ b/f\n@@ -1,8 +1,8 @@\n-a\n+A\n b\n c\n d\n e\n f\n g\n-h\n+H\n");
  EXPECT_EQ(unifiedDiff("x\n", "y\nx\n", "f"), "--- a/f\n+++ b/f\n@@ -1 +1,2 @@\n+y\n x\n");
  EXPECT_EQ(unifiedDiff("", "y\n", "f"), "--- a/f\n+++ b/f\n@@ -0,0 +1 @@\n+y\n");
}

}  // namespace
}  // namespace synguard::tune
