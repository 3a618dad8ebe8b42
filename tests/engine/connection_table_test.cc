#include "engine/track/connection_table.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <map>

#include "engine/engine.h"
#include "tests/support/capturing_sink.h"
#include "tests/support/manual_clock.h"

namespace synguard::engine {
namespace {

FlowKey key(std::uint32_t i) {
  return FlowKey{IpAddress::v4(0xcb007100U + (i & 0xff)), IpAddress::v4(0xc6336401U),
                 static_cast<std::uint16_t>(1024 + (i >> 8)), 80};
}

TEST(ConnectionTable, MemoryPerConnectionIsAtMost128BytesWithOverhead) {
  for (std::size_t cap : {std::size_t{1} << 16, std::size_t{1} << 20, std::size_t{1} << 22}) {
    ConnectionTable t(cap, 7);
    const double per = static_cast<double>(t.memoryBytes()) / static_cast<double>(t.capacity());
    std::printf(
        "capacity %zu: %.2f bytes per connection (slot %zu + 2 buckets of %zu), plus %zu "
        "bytes for the table object\n",
        t.capacity(), per, sizeof(Connection), sizeof(std::uint32_t),
        ConnectionTable::fixedBytes());
    EXPECT_LE(per, 128.0);
    EXPECT_LT(ConnectionTable::fixedBytes(), 1024U);
  }
}

TEST(ConnectionTable, FindsBothDirectionsAndReusesSlots) {
  ConnectionTable t(8, 3);
  const FlowKey k = key(1);
  const std::uint32_t idx = t.insert(k);
  ASSERT_NE(idx, kNoIndex);
  EXPECT_EQ(t.find(k).idx, idx);
  EXPECT_FALSE(t.find(k).reply);
  EXPECT_EQ(t.find(k.reversed()).idx, idx);
  EXPECT_TRUE(t.find(k.reversed()).reply);
  EXPECT_EQ(t.find(key(2)).idx, kNoIndex);
  for (std::uint32_t i = 2; i <= 8; ++i) {
    EXPECT_NE(t.insert(key(i)), kNoIndex);
  }
  EXPECT_EQ(t.insert(key(99)), kNoIndex);
  t.remove(idx);
  EXPECT_EQ(t.find(k).idx, kNoIndex);
  EXPECT_EQ(t.insert(key(99)), idx);
  EXPECT_EQ(t.size(), 8U);
}

TEST(ConnectionTable, ChainsAgreeWithAModelUnderChurn) {
  // A small table keeps the hash chains long: random inserts, removals (chain heads, middles
  // and tails) and lookups in both orientations must agree with a plain model.
  {
    ConnectionTable t(256, 99);
    std::map<std::uint32_t, std::uint32_t> model;  // key number -> slot
    std::uint64_t x = 0x2545f4914f6cdd1dULL;
    const auto rnd = [&x] {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      return x;
    };
    for (int step = 0; step < 200000; ++step) {
      const auto k = static_cast<std::uint32_t>(rnd() % 600);
      const FlowKey fk = key(k);
      const auto it = model.find(k);
      const ConnectionTable::Found f = t.find(fk);
      const ConnectionTable::Found r = t.find(fk.reversed());
      if (it == model.end()) {
        ASSERT_EQ(f.idx, kNoIndex) << step;
        ASSERT_EQ(r.idx, kNoIndex) << step;
        const std::uint32_t idx = t.insert(fk);
        if (idx != kNoIndex) {
          model[k] = idx;
        } else {
          ASSERT_EQ(t.size(), t.capacity());
        }
      } else {
        ASSERT_EQ(f.idx, it->second) << step;
        ASSERT_FALSE(f.reply);
        ASSERT_EQ(r.idx, it->second) << step;
        ASSERT_TRUE(r.reply);
        if ((rnd() & 1) != 0) {
          t.remove(it->second);
          model.erase(it);
        }
      }
      ASSERT_EQ(t.size(), model.size());
    }
    for (const auto& [k, idx] : model) {
      EXPECT_EQ(t.find(key(k)).idx, idx);
    }
  }
}

TEST(ConnectionTable, TimerListsStayInTouchOrder) {
  ConnectionTable t(16, 3);
  std::uint32_t ids[4];
  for (std::uint32_t i = 0; i < 4; ++i) {
    ids[i] = t.insert(key(i));
    t.touch(ids[i], 2, i * 10);
  }
  EXPECT_EQ(t.head(2), ids[0]);
  t.touch(ids[0], 2, 100);  // refreshed: moves to the tail
  EXPECT_EQ(t.head(2), ids[1]);
  t.touch(ids[1], 4, 110);  // changed state: other list
  EXPECT_EQ(t.head(2), ids[2]);
  EXPECT_EQ(t.listSize(2), 3U);
  EXPECT_EQ(t.listSize(4), 1U);
  t.remove(ids[2]);
  EXPECT_EQ(t.head(2), ids[3]);
  EXPECT_EQ(t.listSize(2), 2U);
}

TEST(ConnectionTable, HashIsSymmetricAndSeeded) {
  const FlowKey k = key(5);
  EXPECT_EQ(FlowHasher(1)(k), FlowHasher(1)(k.reversed()));
  EXPECT_NE(FlowHasher(1)(k), FlowHasher(2)(k));
}

}  // namespace
}  // namespace synguard::engine
