// Cost of the XDP program per frame (Google Benchmark over BPF_PROG_TEST_RUN): the kernel times
// the program's runs and reports the mean; that mean is this benchmark's time per iteration
// (manual time). Needs root. Results: docs/BENCHMARKS.md, beside protect_bench's
// BM_CookieSynAckFlood (the engine answering the same SYN).
//
// A test run with `repeat` runs the program again and again on the *same* buffer, so from the
// second run on an answered SYN is already the SYN-ACK (which the program passes: no service).
// The answering cases therefore make 100 000 test runs of one run each and average the kernel's
// per-run time, which then includes the kernel's timer reads around one run; the passed-ACK
// case is measured both ways, and the difference is that overhead (`timer_ns`), subtracted in
// `net_ns`. That is still an upper bound, and a noisy one: a single run also meets a cold
// buffer (replacing SipHash by a plain XOR moved it by less than its noise). The stale-key case
// runs everything the answer does except the cookie and the rewrite, repeatably.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "daemon/inline/xdp/xdp_program.h"
#include "tests/support/packet_builder.h"
#include "tests/support/test_secrets.h"

namespace synguard::bench {
namespace {

using daemon::xdp::ServiceState;
using daemon::xdp::StateInputs;
using daemon::xdp::XdpProgram;
using testing::PacketBuilder;

constexpr std::uint32_t kRepeat = 1'000'000;
constexpr int kSingleRuns = 100'000;
constexpr std::uint64_t kWallNs = 1'800'000'000ULL * 1'000'000'000ULL;

enum class Case { kV4Options, kV4NoOptions, kV6Options, kNotSyn, kV4Stale };

std::vector<std::uint8_t> frameFor(Case c) {
  PacketBuilder b = c == Case::kV6Options ? PacketBuilder::ipv6("2a00::7", "2001:db8:5::1")
                                          : PacketBuilder::ipv4("10.1.2.3", "198.51.100.1");
  b.tcp(40000, 80).seq(12345);
  switch (c) {
    case Case::kV4Options:
    case Case::kV6Options:
    case Case::kV4Stale:
      // Linux's SYN: MSS, SACK-permitted, timestamps, NOP, window scale (20 option bytes).
      b.syn().mss(1460).sackPermitted().timestamps(0x01020304, 0).wscale(7);
      break;
    case Case::kV4NoOptions:
      b.syn();  // the SYN-ACK (MSS option) is longer: bpf_xdp_adjust_tail grows the frame
      break;
    case Case::kNotSyn:
      b.ack(777);  // passed after the service lookup
      break;
  }
  const auto ip = b.build();
  std::vector<std::uint8_t> f{0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1};
  f.push_back(c == Case::kV6Options ? 0x86 : 0x08);
  f.push_back(c == Case::kV6Options ? 0xdd : 0x00);
  std::transform(ip.begin(), ip.end(), std::back_inserter(f),
                 [](std::byte x) { return std::to_integer<std::uint8_t>(x); });
  return f;
}

/// The kernel's per-run time: `repeat` runs in one test run, or `kSingleRuns` single runs.
double perRunNs(const XdpProgram& prog, const std::vector<std::uint8_t>& frame, bool single,
                std::uint32_t& action) {
  if (!single) {
    const auto r = prog.testRun(frame, kRepeat);
    action = r ? r->action : 0;
    return r ? static_cast<double>(r->duration_ns) : -1;
  }
  double total = 0;
  for (int i = 0; i < kSingleRuns; ++i) {
    const auto r = prog.testRun(frame, 1);
    if (!r) {
      return -1;
    }
    action = r->action;
    total += static_cast<double>(r->duration_ns);
  }
  return total / kSingleRuns;
}

void BM_XdpTestRun(benchmark::State& state, Case c) {
  if (geteuid() != 0) {
    state.SkipWithError("needs root (BPF_PROG_TEST_RUN)");
    return;
  }
  auto loaded = XdpProgram::load(XdpProgram::Options{.fixed_clock = true});
  if (!loaded) {
    state.SkipWithError(loaded.error().message.c_str());
    return;
  }
  std::unique_ptr<XdpProgram> prog = std::move(*loaded);
  engine::EngineConfig cfg;
  engine::ServiceConfig s;
  s.name = "bench";
  (void)s.addresses.add("198.51.100.0/24");
  (void)s.addresses.add("2001:db8:5::/64");
  s.ports = {{80, 80}};
  s.mode = engine::ProtectionMode::kAlways;
  cfg.protection.services.push_back(s);
  StateInputs in;
  in.config = &cfg;
  in.master_key = engine::SipKey{0x1234, 0x5678};
  in.wall_now_ns = static_cast<std::int64_t>(kWallNs);
  prog->writeState(in);
  if (!prog->writeServiceMap(cfg.protection)) {
    state.SkipWithError("writing the service map failed");
    return;
  }
  ServiceState svc;
  svc.action = SG_XDP_SVC_COOKIE;
  prog->writeService(0, svc);
  // Stale: two key periods on, the SYN is passed just before its cookie would be made: all the
  // parsing, lookups, option walk and checksum, repeatable (the frame is left as it was).
  prog->setFixedWallNs(kWallNs + 123'456'789 + (c == Case::kV4Stale ? 7200'000'000'000ULL : 0));
  const std::vector<std::uint8_t> frame = frameFor(c);
  const std::vector<std::uint8_t> ack = frameFor(Case::kNotSyn);
  const bool single = c != Case::kNotSyn && c != Case::kV4Stale;
  std::uint32_t action = 0;
  double timer_ns = 0;
  double last = 0;
  for (auto _ : state) {
    last = perRunNs(*prog, frame, single, action);
    if (last < 0) {
      state.SkipWithError("BPF_PROG_TEST_RUN failed");
      return;
    }
    state.SetIterationTime(last * 1e-9);
  }
  std::uint32_t ignored = 0;
  timer_ns = perRunNs(*prog, ack, true, ignored) - perRunNs(*prog, ack, false, ignored);
  state.counters["timer_ns"] = timer_ns;
  state.counters["net_ns"] = single ? last - timer_ns : last;
  state.counters["xdp_action"] = action;  // 2 XDP_PASS, 3 XDP_TX
  state.counters["frame_bytes"] = static_cast<double>(frame.size());
}

BENCHMARK_CAPTURE(BM_XdpTestRun, ipv4_syn_20_option_bytes, Case::kV4Options)
    ->UseManualTime()
    ->Iterations(5)
    ->Unit(benchmark::kNanosecond);
BENCHMARK_CAPTURE(BM_XdpTestRun, ipv4_syn_no_options_grows, Case::kV4NoOptions)
    ->UseManualTime()
    ->Iterations(5)
    ->Unit(benchmark::kNanosecond);
BENCHMARK_CAPTURE(BM_XdpTestRun, ipv6_syn_20_option_bytes, Case::kV6Options)
    ->UseManualTime()
    ->Iterations(5)
    ->Unit(benchmark::kNanosecond);
BENCHMARK_CAPTURE(BM_XdpTestRun, ipv4_syn_stale_key_passed, Case::kV4Stale)
    ->UseManualTime()
    ->Iterations(5)
    ->Unit(benchmark::kNanosecond);
BENCHMARK_CAPTURE(BM_XdpTestRun, ipv4_ack_passed, Case::kNotSyn)
    ->UseManualTime()
    ->Iterations(5)
    ->Unit(benchmark::kNanosecond);

}  // namespace
}  // namespace synguard::bench

BENCHMARK_MAIN();
