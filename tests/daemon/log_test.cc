#include "daemon/inline/log.h"

#include <gtest/gtest.h>

#include <string>

namespace synguard::daemon {
namespace {

using Clock = Logger::Clock;
using std::chrono::milliseconds;

int lines(const std::string& s) {
  int n = 0;
  for (const char c : s) {
    n += c == '\n' ? 1 : 0;
  }
  return n;
}

TEST(Logger, JournaldPrefixesAndLevelFilter) {
  Logger l;
  std::string out;
  l.setSinkForTest(&out);
  l.configure({LogLevel::kNotice, 10, 50});
  const auto t = Clock::now();
  l.logAt(LogLevel::kNotice, "started", t);
  l.logAt(LogLevel::kInfo, "chatty", t);
  l.logAt(LogLevel::kError, "broken", t);
  EXPECT_EQ(out, "<5>synguard: started\n<3>synguard: broken\n");
}

TEST(Logger, AFloodOfLinesIsCutToTheBudgetAndSummarised) {
  Logger l;
  std::string out;
  l.setSinkForTest(&out);
  l.configure({LogLevel::kInfo, 10, 20});
  auto t = Clock::now();
  for (int i = 0; i < 10000; ++i) {  // 10 000 lines in one second
    l.logAt(LogLevel::kWarning, "line " + std::to_string(i), t);
    t += std::chrono::microseconds(100);
  }
  // The burst plus 10 a second.
  EXPECT_LE(lines(out), 20 + 11);
  EXPECT_GE(lines(out), 20);
  EXPECT_GT(l.suppressed(), 9900U);
  out.clear();
  t += std::chrono::seconds(5);
  l.logAt(LogLevel::kNotice, "calm again", t);
  EXPECT_NE(out.find("<4>synguard: "), std::string::npos);
  EXPECT_NE(out.find(" log lines suppressed (rate limit)\n<5>synguard: calm again\n"),
            std::string::npos)
      << out;
}

TEST(Logger, ParsesLevels) {
  LogLevel l = LogLevel::kInfo;
  EXPECT_TRUE(parseLogLevel("debug", l));
  EXPECT_EQ(l, LogLevel::kDebug);
  EXPECT_TRUE(parseLogLevel("error", l));
  EXPECT_EQ(l, LogLevel::kError);
  EXPECT_FALSE(parseLogLevel("loud", l));
}

}  // namespace
}  // namespace synguard::daemon
