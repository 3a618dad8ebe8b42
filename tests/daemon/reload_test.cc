#include "daemon/inline/reload.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace synguard::daemon {
namespace {

TEST(KeepRunning, NothingChangedNamesNothing) {
  RunOptions running;
  RunOptions next = running;
  EXPECT_TRUE(keepRunning(next, running).empty());
}

TEST(KeepRunning, NamesWhatNeedsARestartAndPutsTheRunningValueBack) {
  RunOptions running;
  running.queues = 2;
  running.engine.table_capacity = 1024;
  running.engine.protection.cookies.window = std::chrono::seconds(64);
  RunOptions next = running;
  next.queues = 4;
  next.nft_table = "other";
  next.engine.table_capacity = 2048;
  next.engine.protection.cookies.window = std::chrono::seconds(32);
  next.engine.half_open.source_prefix_v4 = 16;
  next.stats_interval = 5;  // applied by a reload: not kept
  const std::vector<std::string> kept = keepRunning(next, running);
  EXPECT_EQ(kept,
            (std::vector<std::string>{"queues", "nftables table", "table capacity",
                                      "source prefix lengths", "cookie window and MSS tables"}));
  EXPECT_EQ(next.queues, 2);
  EXPECT_EQ(next.nft_table, running.nft_table);
  EXPECT_EQ(next.engine.table_capacity, 1024U);
  EXPECT_EQ(next.engine.protection.cookies.window, std::chrono::seconds(64));
  EXPECT_EQ(next.engine.half_open.source_prefix_v4, running.engine.half_open.source_prefix_v4);
  EXPECT_EQ(next.stats_interval, 5);
}

TEST(KeepRunning, ZeroQueuesMeansUnchanged) {
  RunOptions running;
  running.queues = 3;
  RunOptions next = running;
  next.queues = 0;  // "one per CPU" in the file: the running count stays, unnamed
  EXPECT_TRUE(keepRunning(next, running).empty());
  EXPECT_EQ(next.queues, 3);
}

TEST(KeepRunning, BypassKeepsTheEnginesFlagToo) {
  RunOptions running;
  running.bypass = true;
  running.engine.bypass_established = true;
  RunOptions next = running;
  next.bypass = false;
  next.engine.bypass_established = false;
  EXPECT_EQ(keepRunning(next, running), (std::vector<std::string>{"bypass"}));
  EXPECT_TRUE(next.bypass);
  EXPECT_TRUE(next.engine.bypass_established);
}

}  // namespace
}  // namespace synguard::daemon
