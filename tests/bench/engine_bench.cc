// Engine per-packet cost (Google Benchmark). Results and commands: docs/BENCHMARKS.md.
#include <benchmark/benchmark.h>

#include <memory>
#include <vector>

#include "engine/engine.h"
#include "tests/bench/packets.h"
#include "tests/support/test_secrets.h"

namespace synguard::bench {
namespace {

class NullSink : public engine::PacketSink {
 public:
  void emit(engine::Direction, std::span<const std::byte>) noexcept override {}
};

void runFlood(benchmark::State& state, std::size_t capacity) {
  // 4M distinct tuples: four times the largest table, so every case evicts.
  static const PacketSet flood = synFlood(1 << 22);
  StepClock clock;
  NullSink sink;
  engine::EngineConfig cfg;
  cfg.table_capacity = capacity;
  auto eng = engine::Engine::create(cfg, testing::testSecrets(), clock, sink);
  std::size_t i = 0;
  std::uint64_t n = 0;
  const bool lookahead = state.range(1) != 0;
  const std::size_t sz = flood.size();
  for (auto _ : state) {
    if (lookahead) {  // what the replay and the queue reader do over their batches
      eng->prefetch(flood.at((i + 16) % sz), false);
      eng->prefetch(flood.at((i + 8) % sz), true);
    }
    benchmark::DoNotOptimize(eng->process(flood.at(i)));
    if (++i == flood.size()) {
      i = 0;
    }
    if ((++n & 0x3ff) == 0) {
      clock.t = clock.t + std::chrono::microseconds(100);  // ~10 Mpps of packet time
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["half_open"] = static_cast<double>(eng->halfOpen().global());
  state.counters["evicted"] = static_cast<double>(
      eng->stats().connections_ended[static_cast<std::size_t>(engine::EndCause::kEvicted)]);
}

/// (a) SYN flood in tracking mode: parse + lookup + insert (evicting once full) + accounting.
void BM_SynFlood(benchmark::State& state) {
  runFlood(state, static_cast<std::size_t>(state.range(0)));
}
BENCHMARK(BM_SynFlood)
    ->ArgNames({"capacity", "lookahead"})
    ->Args({1 << 16, 0})
    ->Args({1 << 16, 1})
    ->Args({1 << 20, 0})
    ->Args({1 << 20, 1})
    ->MinTime(2.0);

/// (b) Complete connections: SYN, SYN-ACK, ACK+data, data, ACK, FIN, FIN-ACK, ACK — eight
/// packets each, 4096 connections interleaved, tuples recycled through TIME-WAIT reopen.
void BM_FullConnections(benchmark::State& state) {
  constexpr std::size_t kConns = 4096;
  PacketSet s;
  XorShift rng;
  for (std::size_t c = 0; c < kConns; ++c) {
    const auto src = 0xc0000200U | static_cast<std::uint32_t>(c & 0xff);  // 192.0.2.x
    const auto sport = static_cast<std::uint16_t>(20000 + c / 256);
    const auto isn = static_cast<std::uint32_t>(rng());
    const auto irs = static_cast<std::uint32_t>(rng());
    const RawTcp up{.src = src, .dst = kServer, .sport = sport, .dport = 443};
    const RawTcp down{.src = kServer, .dst = src, .sport = 443, .dport = sport};
    auto p = up;
    p.seq = isn;
    p.flags = engine::kSyn;
    p.mss_option = true;
    s.add(p);
    p = down;
    p.seq = irs;
    p.ack = isn + 1;
    p.flags = engine::kSyn | engine::kAck;
    p.mss_option = true;
    s.add(p);
    p = up;
    p.seq = isn + 1;
    p.ack = irs + 1;
    p.flags = engine::kAck | engine::kPsh;
    p.payload = 200;
    s.add(p);
    p = down;
    p.seq = irs + 1;
    p.ack = isn + 201;
    p.flags = engine::kAck | engine::kPsh;
    p.payload = 1000;
    s.add(p);
    p = up;
    p.seq = isn + 201;
    p.ack = irs + 1001;
    p.flags = engine::kAck;
    s.add(p);
    p = up;
    p.seq = isn + 201;
    p.ack = irs + 1001;
    p.flags = engine::kFin | engine::kAck;
    s.add(p);
    p = down;
    p.seq = irs + 1001;
    p.ack = isn + 202;
    p.flags = engine::kFin | engine::kAck;
    s.add(p);
    p = up;
    p.seq = isn + 202;
    p.ack = irs + 1002;
    p.flags = engine::kAck;
    s.add(p);
  }
  // Interleave: packet k of every connection, then packet k+1.
  std::vector<std::size_t> order;
  for (std::size_t k = 0; k < 8; ++k) {
    for (std::size_t c = 0; c < kConns; ++c) {
      order.push_back(c * 8 + k);
    }
  }
  StepClock clock;
  NullSink sink;
  engine::EngineConfig cfg;
  cfg.table_capacity = 1 << 16;
  auto eng = engine::Engine::create(cfg, testing::testSecrets(), clock, sink);
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(eng->process(s.at(order[i])));
    if (++i == order.size()) {
      i = 0;
      clock.t = clock.t + std::chrono::milliseconds(1);
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["invalid"] = static_cast<double>(
      eng->stats().accepted[static_cast<std::size_t>(engine::VerdictReason::kInvalid)]);
  state.counters["handshakes"] = static_cast<double>(eng->stats().handshakes_completed);
}
BENCHMARK(BM_FullConnections)->MinTime(2.0);

/// Parse only, for reference.
void BM_ParseSyn(benchmark::State& state) {
  static const PacketSet flood = synFlood(1 << 12);
  std::size_t i = 0;
  engine::Segment seg;
  for (auto _ : state) {
    benchmark::DoNotOptimize(engine::parseSegment(flood.at(i), seg));
    i = (i + 1) & 0xfff;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_ParseSyn);

}  // namespace
}  // namespace synguard::bench

BENCHMARK_MAIN();
