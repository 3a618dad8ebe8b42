// The packet path allocates nothing: a global operator new that counts, around process() calls
// that create, track, evict and expire connections.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "tests/engine/engine_fixture.h"
#include "tests/support/invariants.h"

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
// GCC 12 sees malloc under the counting operator new and free in these, once inlined into
// a vector's deallocation, as a mismatch: they are a matched pair by construction.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace synguard::engine {
namespace {

TEST_F(EngineTest, ThePacketPathDoesNotAllocate) {
  EngineConfig cfg;
  cfg.table_capacity = 256;  // small: the loop below evicts
  auto created = Engine::create(cfg, testing::testSecrets(), clock_, sink_,
                                nullptr);  // the test observer allocates
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
    // An ICMP error about the data segment (parsed, looked up, passed untouched).
    packets.push_back(
        testing::icmpError("192.0.2.1", src, 3, 4, packets.back(), 20 + 8 + (i % 40)));
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
  EXPECT_GT(eng().stats().icmp[static_cast<std::size_t>(IcmpOutcome::kNotProxied)], 1000U);
}

/// 10 million SYNs from 10 million distinct spoofed sources (spread over the whole IPv4 space,
/// so the per-source counters recycle too) against a service, with 1000 established
/// connections to it: the table never exceeds its capacity, nothing is allocated, every
/// established connection survives (eviction only takes half-open ones), and the counters stay
/// exact. Tracking only (`off`), then with cookies (`always`), where the flood leaves no state.
/// Counts what the engine emits without keeping it (a capturing sink would allocate).
class CountingSink : public PacketSink {
 public:
  void emit(Direction /*dir*/, std::span<const std::byte> /*pkt*/) noexcept override { ++count; }
  std::uint64_t count = 0;
};

void tenMillionSources(ProtectionMode mode) {
  testing::ManualClock clock;
  clock.set(MonotonicTime{std::chrono::seconds(1'800'000'000)});
  CountingSink sink;
  EngineConfig cfg;
  cfg.table_capacity = 1U << 16;
  ServiceConfig web;
  web.name = "web";
  ASSERT_TRUE(web.addresses.add("198.51.100.10").has_value());
  web.ports = {{80, 80}};
  web.mode = mode;
  cfg.protection.services.push_back(web);
  cfg.protection.proxy.capacity = 2048;
  cfg.protection.allow = PrefixSet{};
  ASSERT_TRUE(cfg.protection.allow.add("192.0.2.0/24").has_value());  // the real clients
  auto created = Engine::create(cfg, testing::testSecrets(SipKey{3, 4}), clock, sink, nullptr);
  ASSERT_TRUE(created.has_value());
  Engine& e = *created;
  constexpr std::uint32_t kEstablished = 1000;
  for (std::uint32_t i = 0; i < kEstablished; ++i) {
    const std::string c = "192.0.2." + std::to_string(i % 250 + 1);
    const auto port = static_cast<std::uint16_t>(20000 + i);
    (void)e.process(
        testing::PacketBuilder::ipv4(c, "198.51.100.10").tcp(port, 80).syn().seq(1).build());
    (void)e.process(
        testing::PacketBuilder::ipv4("198.51.100.10", c).tcp(80, port).syn().seq(9).ack(2).build());
    (void)e.process(
        testing::PacketBuilder::ipv4(c, "198.51.100.10").tcp(port, 80).seq(2).ack(10).build());
  }
  ASSERT_EQ(e.stats().connections_by_state[index(TcpState::kEstablished)], kEstablished);
  // One template SYN; each copy gets a new source address and port (the engine reads the
  // checksum only when told to verify it).
  std::vector<std::byte> syn =
      testing::PacketBuilder::ipv4("10.0.0.1", "198.51.100.10").tcp(1024, 80).syn().seq(5).build();
  const std::uint64_t before = g_allocations.load();
  std::uint64_t x = 0x9e3779b97f4a7c15ULL;
  std::size_t max_table = 0;
  for (std::uint32_t i = 0; i < 10'000'000; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;       // distinct: a full-period LCG
    const auto src = static_cast<std::uint32_t>(i * 2654435761U);  // a bijection on 32 bits
    syn[12] = static_cast<std::byte>(src >> 24);
    syn[13] = static_cast<std::byte>(src >> 16);
    syn[14] = static_cast<std::byte>(src >> 8);
    syn[15] = static_cast<std::byte>(src);
    syn[20] = static_cast<std::byte>(x >> 40);
    syn[21] = static_cast<std::byte>(x >> 32);
    (void)e.process(syn);
    clock.advance(std::chrono::microseconds(1));
    if ((i & 0xffff) == 0) {
      e.expire();
      max_table = std::max(max_table, e.table().size());
    }
  }
  e.expire();
  EXPECT_EQ(g_allocations.load() - before, 0U) << "the packet path allocated";
  EXPECT_LE(max_table, e.table().capacity());
  EXPECT_EQ(e.stats().connections_by_state[index(TcpState::kEstablished)], kEstablished)
      << "established connections were lost";
  EXPECT_EQ(testing::engineInvariantProblems(e), "");
  if (mode == ProtectionMode::kOff) {
    EXPECT_GT(e.stats().connections_ended[static_cast<std::size_t>(EndCause::kEvicted)],
              9'000'000U);
  } else {
    EXPECT_EQ(e.stats().cookies_sent, 10'000'000U);
    EXPECT_EQ(sink.count, 10'000'000U);
    EXPECT_LE(max_table, kEstablished + 16U) << "cookie SYNs must leave no state";
  }
}

TEST(TenMillionSources, TrackingKeepsTheTableBoundedAndEstablishedConnections) {
  tenMillionSources(ProtectionMode::kOff);
}

TEST(TenMillionSources, CookiesLeaveNoState) { tenMillionSources(ProtectionMode::kAlways); }

}  // namespace
}  // namespace synguard::engine
