#include "engine/stats.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace synguard::engine {
namespace {

// Every byte of EngineStats belongs to exactly one described value: a field missing from
// forEachCounter (or visited twice) leaves a hole (or an overlap) here, whatever its size.
TEST(CounterDescription, CoversEveryFieldOnce) {
  EngineStats s;
  const auto* base = reinterpret_cast<const std::byte*>(&s);  // NOLINT: offsets only
  std::vector<std::pair<std::size_t, std::size_t>> ranges;    // [begin, end) in bytes
  forEachCounter(s, [&](const CounterInfo& info, std::span<std::uint64_t> v) {
    const auto* p = reinterpret_cast<const std::byte*>(v.data());  // NOLINT: offsets only
    ASSERT_GE(p, base) << info.field;
    const auto begin = static_cast<std::size_t>(p - base);
    ranges.emplace_back(begin, begin + v.size_bytes());
  });
  std::sort(ranges.begin(), ranges.end());
  std::size_t at = 0;
  for (const auto& [begin, end] : ranges) {
    EXPECT_EQ(begin, at) << "a field at byte " << at << " is not described (or twice)";
    at = end;
  }
  EXPECT_EQ(at, sizeof(EngineStats));
}

// Writing through the description writes the struct (and reading sees what the engine wrote).
TEST(CounterDescription, VisitsTheFieldsThemselves) {
  EngineStats s;
  std::uint64_t n = 0;
  forEachCounter(s, [&n](const CounterInfo&, std::span<std::uint64_t> v) {
    for (std::uint64_t& x : v) {
      x = ++n;
    }
  });
  EXPECT_EQ(s.packets, 1U);
  EXPECT_EQ(s.half_open_reaped, n);
  EXPECT_EQ(s.translated[1], n - kIcmpOutcomeCount - 2);  // then icmp and two scalars
  const EngineStats& c = s;
  std::uint64_t sum = 0;
  forEachCounter(c, [&sum](const CounterInfo&, std::span<const std::uint64_t> v) {
    for (const std::uint64_t x : v) {
      sum += x;
    }
  });
  EXPECT_EQ(sum, n * (n + 1) / 2);
}

TEST(CounterDescription, IsComplete) {
  EngineStats s;
  std::set<std::string> fields;
  std::set<std::string> metrics;
  forEachCounter(s, [&](const CounterInfo& info, std::span<std::uint64_t> v) {
    SCOPED_TRACE(std::string(info.field));
    EXPECT_TRUE(fields.insert(std::string(info.field)).second) << "field described twice";
    EXPECT_FALSE(info.help.empty());
    if (!info.metric.empty()) {
      EXPECT_TRUE(metrics.insert(std::string(info.metric)).second) << "metric used twice";
      EXPECT_EQ(info.metric.rfind("synguard_", 0), 0U);
      // Prometheus: counters end in _total, gauges do not.
      EXPECT_EQ(info.metric.ends_with("_total"), info.kind == CounterKind::kCounter);
    }
    // An array names its indexes with a label; a single figure has neither.
    EXPECT_EQ(info.index_name != nullptr, !info.label.empty());
    if (info.index_name == nullptr) {
      EXPECT_EQ(v.size(), 1U);
      return;
    }
    std::set<std::string> names;
    for (std::size_t i = 0; i < v.size(); ++i) {
      const std::string name(info.index_name(i));
      if (name.empty()) {
        EXPECT_EQ(i, 0U) << "only a leading kNone goes unnamed";
        continue;
      }
      EXPECT_NE(name, "unknown") << i;
      EXPECT_TRUE(names.insert(name).second) << name;
    }
  });
}

}  // namespace
}  // namespace synguard::engine
