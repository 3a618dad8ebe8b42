// Cost of the SYN-flood defense per packet (Google Benchmark): cookie SYN-ACKs, cookie checks,
// proxied-connection setup and per-segment translation. Results: docs/BENCHMARKS.md.
#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "engine/engine.h"
#include "tests/bench/packets.h"
#include "tests/support/test_secrets.h"

namespace synguard::bench {
namespace {

using engine::Engine;
using engine::EngineConfig;

/// Wall-clock-like time: cookie counters and keys as on a live gateway.
constexpr std::chrono::seconds kWall{1'800'000'000};
constexpr engine::Secrets kSecrets = testing::testSecrets(engine::SipKey{0x1234, 0x5678});

/// Counts what the engine emits; keeps the last packet (for the cookie ISN).
class CountingSink : public engine::PacketSink {
 public:
  void emit(engine::Direction, std::span<const std::byte> p) noexcept override {
    ++packets;
    bytes += p.size();
    last_len = std::min(p.size(), last.size());
    std::memcpy(last.data(), p.data(), last_len);
  }
  // The zero-copy path the daemon's raw sender offers: the engine writes into `last` itself.
  std::span<std::byte> reserve(bool, std::size_t max) noexcept override {
    return max <= last.size() ? std::span<std::byte>(last) : std::span<std::byte>();
  }
  void commit(engine::Direction, std::size_t len) noexcept override {
    ++packets;
    bytes += len;
    last_len = len;
  }
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::array<std::byte, 128> last{};
  std::size_t last_len = 0;
};

EngineConfig protectedConfig(std::size_t capacity, engine::ProtectionMode mode) {
  EngineConfig cfg;
  cfg.table_capacity = capacity;
  engine::ServiceConfig s;
  s.name = "bench";
  (void)s.addresses.add("198.51.100.0/24");
  s.ports = {{80, 80}};
  s.mode = mode;
  cfg.protection.services.push_back(s);
  cfg.protection.proxy.max_ack_delay = std::chrono::milliseconds(0);
  return cfg;
}

/// (a) A SYN flood against a service in cookie mode: parse, lookup (no state is created),
/// SYN accounting, SipHash cookie, SYN-ACK written with checksums and emitted.
void BM_CookieSynAckFlood(benchmark::State& state) {
  static const PacketSet flood = synFlood(1 << 22);
  StepClock clock{kWall};
  CountingSink sink;
  auto eng = Engine::create(
      protectedConfig(static_cast<std::size_t>(state.range(0)), engine::ProtectionMode::kAlways),
      kSecrets, clock, sink);
  std::size_t i = 0;
  std::uint64_t n = 0;
  const bool lookahead = state.range(1) != 0;
  const std::size_t sz = flood.size();
  for (auto _ : state) {
    if (lookahead) {
      eng->prefetch(flood.at((i + 16) % sz), false);
      eng->prefetch(flood.at((i + 8) % sz), true);
    }
    benchmark::DoNotOptimize(eng->process(flood.at(i)));
    if (++i == sz) {
      i = 0;
    }
    if ((++n & 0x3ff) == 0) {
      clock.t = clock.t + std::chrono::microseconds(100);
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["synacks"] = static_cast<double>(sink.packets);
  state.counters["table"] = static_cast<double>(eng->table().size());
}
BENCHMARK(BM_CookieSynAckFlood)
    ->ArgNames({"capacity", "lookahead"})
    ->Args({1 << 16, 0})
    ->Args({1 << 16, 1})
    ->Args({1 << 20, 0})
    ->Args({1 << 20, 1})
    ->MinTime(1.0);

std::vector<engine::FlowKey> tuples(std::size_t n) {
  std::vector<engine::FlowKey> v;
  XorShift rng;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t r = rng();
    v.push_back(engine::FlowKey{engine::IpAddress::v4(0xc6120000U | (r & 0x1ffff)),
                                engine::IpAddress::v4(kServer),
                                static_cast<std::uint16_t>(1024 + ((r >> 17) % 64000)), 80});
  }
  return v;
}

/// (b) The cookie alone: make and check (SipHash-2-4 over 44 bytes).
void BM_CookieMake(benchmark::State& state) {
  const auto t = tuples(4096);
  const engine::SynCookies sc({}, engine::CookieKeys{{1, 2}, {3, 4}, true});
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(sc.make(t[i & 4095], engine::SeqNum{static_cast<std::uint32_t>(i)},
                                     1460, std::chrono::seconds(1'800'000'000)));
    ++i;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_CookieMake);

void BM_CookieCheck(benchmark::State& state) {
  const auto t = tuples(4096);
  const engine::SynCookies sc({}, engine::CookieKeys{{1, 2}, {3, 4}, true});
  const std::chrono::seconds now{1'800'000'000};
  std::vector<engine::SeqNum> cookies;
  for (std::size_t i = 0; i < t.size(); ++i) {
    cookies.push_back(sc.make(t[i], engine::SeqNum{static_cast<std::uint32_t>(i)}, 1460, now).isn);
  }
  std::size_t i = 0;
  for (auto _ : state) {
    const std::size_t k = i & 4095;
    benchmark::DoNotOptimize(
        sc.check(t[k], engine::SeqNum{static_cast<std::uint32_t>(k)}, cookies[k], now));
    ++i;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_CookieCheck);

/// (c) Valid cookie ACKs through the engine: each creates a tracked, proxied connection and
/// emits the SYN to the server. Batches of 32768 clients; the engine is rebuilt between them
/// (untimed).
void BM_CookieAckValidation(benchmark::State& state) {
  constexpr std::size_t kBatch = 32768;
  const PacketSet syns = synFlood(kBatch, 12345);
  StepClock clock{kWall};
  CountingSink sink;
  EngineConfig cfg = protectedConfig(1 << 17, engine::ProtectionMode::kAlways);
  cfg.protection.proxy.capacity = kBatch;
  cfg.protection.proxy.early_segment_buffers = 16;
  std::optional<Engine> eng;
  PacketSet acks;
  std::size_t i = kBatch;
  for (auto _ : state) {
    if (i == kBatch) {
      state.PauseTiming();
      eng.reset();
      eng.emplace(std::move(Engine::create(cfg, kSecrets, clock, sink).value()));
      acks = PacketSet{};
      for (std::size_t k = 0; k < kBatch; ++k) {
        (void)eng->process(syns.at(k));
        engine::Segment sa;
        (void)engine::parseSegment(std::span<const std::byte>(sink.last.data(), sink.last_len), sa);
        engine::Segment syn;
        (void)engine::parseSegment(syns.at(k), syn);
        acks.add(RawTcp{.src = syn.src.v4HostOrder(),
                        .dst = kServer,
                        .sport = syn.src_port,
                        .dport = 80,
                        .seq = syn.seq.raw() + 1,
                        .ack = sa.seq.raw() + 1,
                        .flags = engine::kAck});
      }
      i = 0;
      state.ResumeTiming();
    }
    benchmark::DoNotOptimize(eng->process(acks.at(i)));
    ++i;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["proxied"] = static_cast<double>(eng->stats().proxied_total);
  if (eng->stats().proxied_total == 0) {
    state.SkipWithError("no cookie ACK was validated: the benchmark measured nothing");
  }
}
BENCHMARK(BM_CookieAckValidation)->MinTime(1.0);

/// A data segment with timestamps (and optionally two SACK blocks) for the translation cases.
std::vector<std::byte> dataSegment(bool sack) {
  std::vector<std::byte> p(20 + 20 + 12 + (sack ? 20 : 0) + 1448);
  const std::size_t opt = sack ? 32 : 12;
  std::byte* ip = p.data();
  ip[0] = std::byte{0x45};
  put16(ip + 2, static_cast<std::uint16_t>(p.size()));
  ip[6] = std::byte{0x40};
  ip[8] = std::byte{64};
  ip[9] = std::byte{6};
  put32(ip + 12, 0xc000020a);
  put32(ip + 16, kServer);
  std::byte* tcp = ip + 20;
  put16(tcp, 40000);
  put16(tcp + 2, 80);
  put32(tcp + 4, 1000);
  put32(tcp + 8, 2000);
  tcp[12] = std::byte(static_cast<std::uint8_t>(((20 + opt) / 4) << 4));
  tcp[13] = std::byte{engine::kAck | engine::kPsh};
  put16(tcp + 14, 500);
  std::byte* o = tcp + 20;
  o[0] = std::byte{1};
  o[1] = std::byte{1};
  o[2] = std::byte{8};
  o[3] = std::byte{10};
  put32(o + 4, 123456);
  put32(o + 8, 654321);
  if (sack) {
    o[12] = std::byte{1};
    o[13] = std::byte{1};
    o[14] = std::byte{5};
    o[15] = std::byte{18};
    put32(o + 16, 3000);
    put32(o + 20, 4000);
    put32(o + 24, 5000);
    put32(o + 28, 6000);
  }
  put16(ip + 10, engine::internetChecksum(std::span<const std::byte>(ip, 20)));
  put16(tcp + 16, engine::tcpChecksum(p, 20, p.size() - 20));
  return p;
}

/// (d) Translation alone, both directions alternating, in place.
void BM_TranslateSegment(benchmark::State& state) {
  const bool sack = state.range(0) != 0;
  const bool partial = state.range(1) != 0;
  auto p = dataSegment(sack);
  engine::Segment seg;
  (void)engine::parseSegment(p, seg);
  const engine::Translation t{0x12345678, 0x0badcafe, 7, 7, 9, 7};
  bool to_server = true;
  for (auto _ : state) {
    if (to_server) {
      engine::translateToServer(p, seg, t, partial);
    } else {
      engine::translateToClient(p, seg, t, partial);
    }
    to_server = !to_server;
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_TranslateSegment)
    ->ArgNames({"sack", "partial_csum"})
    ->Args({0, 0})
    ->Args({1, 0})
    ->Args({0, 1});

/// Established connections, data both ways, through the whole engine: proxied (translated) or
/// plainly tracked. Each packet is copied from its template into a scratch buffer first
/// (processMutable rewrites in place); BM_CopyTemplate measures that copy alone.
struct Established {
  StepClock clock{kWall};
  CountingSink sink;
  std::optional<Engine> eng;
  PacketSet packets;
};

constexpr std::size_t kConns = 1024;

std::unique_ptr<Established> establish(bool proxied) {
  auto e = std::make_unique<Established>();
  EngineConfig cfg = protectedConfig(
      1 << 16, proxied ? engine::ProtectionMode::kAlways : engine::ProtectionMode::kOff);
  e->eng.emplace(std::move(Engine::create(cfg, kSecrets, e->clock, e->sink).value()));
  for (std::size_t k = 0; k < kConns; ++k) {
    const std::uint32_t client = 0xc0000200U + static_cast<std::uint32_t>(k);
    const auto port = static_cast<std::uint16_t>(20000 + k);
    Engine& g = *e->eng;
    PacketSet hs;
    hs.add(RawTcp{.src = client,
                  .dst = kServer,
                  .sport = port,
                  .dport = 80,
                  .seq = 1000,
                  .flags = engine::kSyn,
                  .mss_option = true});
    (void)g.process(hs.at(0));
    std::uint32_t server_seq = 5000;
    std::uint32_t client_ack = 5001;
    if (proxied) {
      engine::Segment sa;
      (void)engine::parseSegment(std::span<const std::byte>(e->sink.last.data(), e->sink.last_len),
                                 sa);
      client_ack = sa.seq.raw() + 1;
      hs.add(RawTcp{.src = client,
                    .dst = kServer,
                    .sport = port,
                    .dport = 80,
                    .seq = 1001,
                    .ack = client_ack,
                    .flags = engine::kAck});
      (void)g.process(hs.at(1));
      hs.add(RawTcp{.src = kServer,
                    .dst = client,
                    .sport = 80,
                    .dport = port,
                    .seq = 5000,
                    .ack = 1001,
                    .flags = engine::kSyn | engine::kAck,
                    .mss_option = true});
      (void)g.process(hs.at(2));
    } else {
      hs.add(RawTcp{.src = kServer,
                    .dst = client,
                    .sport = 80,
                    .dport = port,
                    .seq = server_seq,
                    .ack = 1001,
                    .flags = engine::kSyn | engine::kAck,
                    .mss_option = true});
      (void)g.process(hs.at(1));
      hs.add(RawTcp{.src = client,
                    .dst = kServer,
                    .sport = port,
                    .dport = 80,
                    .seq = 1001,
                    .ack = client_ack,
                    .flags = engine::kAck});
      (void)g.process(hs.at(2));
    }
    // The same bytes again and again are in-window retransmissions: realistic enough for the
    // per-segment cost, and they keep the connection state steady.
    e->packets.add(RawTcp{.src = client,
                          .dst = kServer,
                          .sport = port,
                          .dport = 80,
                          .seq = 1001,
                          .ack = client_ack,
                          .flags = engine::kAck | engine::kPsh,
                          .payload = 1200});
    e->packets.add(RawTcp{.src = kServer,
                          .dst = client,
                          .sport = 80,
                          .dport = port,
                          .seq = server_seq + 1,
                          .ack = 1001,
                          .flags = engine::kAck | engine::kPsh,
                          .payload = 1200});
  }
  return e;
}

void runEstablished(benchmark::State& state, bool proxied) {
  static const auto proxied_set = establish(true);
  static const auto tracked_set = establish(false);
  const auto& e = proxied ? proxied_set : tracked_set;
  std::array<std::byte, 1600> scratch{};
  std::size_t i = 0;
  const std::size_t n = e->packets.size();
  for (auto _ : state) {
    const auto tmpl = e->packets.at(i);
    std::memcpy(scratch.data(), tmpl.data(), tmpl.size());
    benchmark::DoNotOptimize(
        e->eng->processMutable(std::span<std::byte>(scratch.data(), tmpl.size())));
    if (++i == n) {
      i = 0;
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["translated"] =
      static_cast<double>(e->eng->stats().translated[0] + e->eng->stats().translated[1]);
  if (proxied && e->eng->stats().translated[0] + e->eng->stats().translated[1] == 0) {
    state.SkipWithError("no segment was translated: the connections are not proxied");
  }
}

void BM_ProxiedEstablished(benchmark::State& state) { runEstablished(state, true); }
BENCHMARK(BM_ProxiedEstablished)->MinTime(1.0);
void BM_TrackedEstablished(benchmark::State& state) { runEstablished(state, false); }
BENCHMARK(BM_TrackedEstablished)->MinTime(1.0);

void BM_CopyTemplate(benchmark::State& state) {
  const auto p = dataSegment(false);
  std::array<std::byte, 1600> scratch{};
  for (auto _ : state) {
    std::memcpy(scratch.data(), p.data(), 1264);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_CopyTemplate);

}  // namespace
}  // namespace synguard::bench

BENCHMARK_MAIN();
