// The packet path allocates nothing: a global operator new that counts, around process() calls
// that create, track, evict and expire connections.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "tests/engine/engine_fixture.h"

namespace {
std::atomic<std::uint64_t> g_allocations{0};
}  // namespace

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) {
    return p;
  }
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace synguard::engine {
namespace {

TEST_F(EngineTest, ThePacketPathDoesNotAllocate) {
  EngineConfig cfg;
  cfg.table_capacity = 256;                                    // small: the loop below evicts
  auto created = Engine::create(cfg, clock_, sink_, nullptr);  // the test observer allocates
  ASSERT_TRUE(created.has_value());
  engine_.reset();
  engine_.emplace(std::move(created).value());
  // Build every packet first: the builder allocates, the engine must not.
  std::vector<std::vector<std::byte>> packets;
  for (std::uint32_t i = 0; i < 2000; ++i) {
    const std::string src = "203.0.113." + std::to_string(i % 250 + 1);
    const auto port = static_cast<std::uint16_t>(1024 + i);
    packets.push_back(
        testing::PacketBuilder::ipv4(src, kServer).tcp(port, 80).syn().seq(i).mss(1460).build());
    packets.push_back(
        testing::PacketBuilder::ipv4(kServer, src).tcp(80, port).syn().seq(7).ack(i + 1).build());
    packets.push_back(testing::PacketBuilder::ipv4(src, kServer)
                          .tcp(port, 80)
                          .seq(i + 1)
                          .ack(8)
                          .payload(100)
                          .build());
    packets.push_back(
        testing::PacketBuilder::ipv4(src, kServer).tcp(port, 80).rst().seq(i + 101).build());
  }
  const std::uint64_t before = g_allocations.load();
  for (const auto& p : packets) {
    (void)eng().process(p);
    clock_.advance(std::chrono::milliseconds(7));
  }
  eng().expire();
  const std::uint64_t after = g_allocations.load();
  EXPECT_EQ(after - before, 0U);
  EXPECT_GT(eng().stats().connections_ended[static_cast<std::size_t>(EndCause::kEvicted)] +
                eng().stats().connections_ended[static_cast<std::size_t>(EndCause::kTimeout)],
            0U);
  EXPECT_EQ(eng().stats().handshakes_completed, 2000U);
}

}  // namespace
}  // namespace synguard::engine
