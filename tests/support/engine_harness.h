#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "engine/engine.h"
#include "tests/support/capturing_sink.h"
#include "tests/support/manual_clock.h"
#include "tests/support/packet_builder.h"
#include "tests/support/test_secrets.h"

namespace synguard::testing {

/// Where the protection tests' clock starts: a wall-clock-like time, so cookie time counters and
/// timestamps look as they do on a gateway.
inline constexpr engine::MonotonicTime kProtectionEpoch{std::chrono::seconds(1'800'000'000)};

/// An engine under test: a clock moved by hand, a sink that keeps what the engine emits, and the
/// secrets it is created with. Test fixtures derive from it beside ::testing::Test; start()
/// (re)creates the engine, so one test can try several configurations.
class EngineHarness {
 protected:
  explicit EngineHarness(engine::Secrets secrets = testSecrets()) : secrets_(secrets) {}

  /// A new engine on `cfg`, the clock set to `t0` and the sink emptied. A configuration the
  /// engine refuses fails the test.
  void start(const engine::EngineConfig& cfg, engine::ConnectionObserver* observer = nullptr,
             engine::MonotonicTime t0 = kProtectionEpoch) {
    clock_.set(t0);
    auto r = engine::Engine::create(cfg, secrets_, clock_, sink_, observer);
    ASSERT_TRUE(r.has_value()) << r.error().message;
    engine_.reset();
    engine_.emplace(std::move(r).value());
    sink_.clear();
  }

  engine::Engine& eng() { return *engine_; }
  const engine::EngineStats& st() const { return engine_->stats(); }

  engine::Verdict send(const PacketBuilder& b) { return eng().process(b.build()); }
  /// Sends through the rewriting entry point; returns the verdict and the bytes as passed on.
  std::pair<engine::Verdict, std::vector<std::byte>> pass(const PacketBuilder& b,
                                                          const engine::PacketMeta& meta = {}) {
    auto bytes = b.build();
    const engine::Verdict v = eng().processMutable(bytes, meta);
    return {v, bytes};
  }

  std::uint64_t dropped(engine::VerdictReason r) const { return st().dropped[slot(r)]; }
  std::uint64_t accepted(engine::VerdictReason r) const { return st().accepted[slot(r)]; }
  std::uint64_t would(engine::VerdictReason r) const { return st().would_drop[slot(r)]; }
  std::uint64_t parseErrors(engine::ParseError e) const { return st().parse_errors[slot(e)]; }
  std::uint64_t invalid(engine::InvalidReason r) const { return st().invalid[slot(r)]; }

  ManualClock clock_;
  CapturingSink sink_;
  engine::Secrets secrets_;
  std::optional<engine::Engine> engine_;

 private:
  template <typename E>
  static std::size_t slot(E e) {
    return static_cast<std::size_t>(e);
  }
};

/// The service most protection tests defend: "web" on 198.51.100.0/24 and 2001:db8:5::/64, the
/// given ports, and thresholds of 100/50 half-open connections with a SYN rate (1e9/s) no test
/// reaches, so half-open decides unless a test says otherwise.
inline engine::ServiceConfig webService(engine::ProtectionMode mode,
                                        std::vector<engine::PortRange> ports) {
  engine::ServiceConfig s;
  s.name = "web";
  EXPECT_TRUE(s.addresses.add("198.51.100.0/24").has_value());
  EXPECT_TRUE(s.addresses.add("2001:db8:5::/64").has_value());
  s.ports = std::move(ports);
  s.mode = mode;
  s.thresholds.half_open_on = 100;
  s.thresholds.half_open_off = 50;
  s.thresholds.syn_rate_on = 1e9;
  s.thresholds.syn_rate_off = 1e8;
  s.thresholds.hold = std::chrono::seconds(10);
  return s;
}

}  // namespace synguard::testing
