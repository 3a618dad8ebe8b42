#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/engine.h"
#include "engine/track/outcome.h"
#include "tests/support/capturing_sink.h"
#include "tests/support/manual_clock.h"
#include "tests/support/packet_builder.h"
#include "tests/support/test_secrets.h"

namespace synguard::engine {

/// Records every connection that leaves the engine.
struct EndRecord {
  FlowKey key;
  TcpState state;
  TcpState orig_state;
  TcpState resp_state;
  std::string outcome;
  EndCause cause;
};

class RecordingObserver : public ConnectionObserver {
 public:
  void onConnectionEnd(const Connection& c, EndCause cause) noexcept override {
    ended.push_back(
        {c.key, c.state, c.ep[0].state, c.ep[1].state, std::string(outcomeCode(c)), cause});
  }
  std::vector<EndRecord> ended;
};

/// An engine with a fake clock, a client 192.0.2.10:40000 and a server 198.51.100.1:80.
class EngineTest : public ::testing::Test {
 protected:
  static constexpr const char* kClient = "192.0.2.10";
  static constexpr const char* kServer = "198.51.100.1";
  static constexpr std::uint16_t kCport = 40000;
  static constexpr std::uint16_t kSport = 80;

  void SetUp() override { start(EngineConfig{}); }

  void start(const EngineConfig& cfg) {
    observer_.ended.clear();
    clock_.set(MonotonicTime{std::chrono::seconds(1000)});
    auto r = Engine::create(cfg, testing::testSecrets(), clock_, sink_, &observer_);
    ASSERT_TRUE(r.has_value()) << r.error().message;
    engine_.reset();
    engine_.emplace(std::move(r).value());
  }

  Engine& eng() { return *engine_; }

  testing::PacketBuilder c2s() const {
    return testing::PacketBuilder::ipv4(kClient, kServer).tcp(kCport, kSport);
  }
  testing::PacketBuilder s2c() const {
    return testing::PacketBuilder::ipv4(kServer, kClient).tcp(kSport, kCport);
  }

  Verdict send(const testing::PacketBuilder& b) { return eng().process(b.build()); }

  /// The connection between client and server, or nullptr.
  const Connection* conn(const char* a = kClient, std::uint16_t ap = kCport,
                         const char* b = kServer, std::uint16_t bp = kSport) const {
    const FlowKey k{*IpAddress::parse(a), *IpAddress::parse(b), ap, bp};
    const auto f = engine_->table().find(k);
    return f.idx == kNoIndex ? nullptr : &engine_->table().at(f.idx);
  }
  TcpState state() const {
    const Connection* c = conn();
    return c == nullptr ? TcpState::kInvalid : c->state;
  }
  std::uint64_t invalid(InvalidReason r) const {
    return engine_->stats().invalid[static_cast<std::size_t>(r)];
  }

  /// Client ISN 1000, server ISN 5000: SYN, SYN-ACK, ACK.
  void handshake() {
    ASSERT_EQ(send(c2s().syn().seq(1000).mss(1460).wscale(7).sackPermitted()),
              Verdict::accept(VerdictReason::kTracked));
    ASSERT_EQ(send(s2c().syn().seq(5000).ack(1001).mss(1460).wscale(7).sackPermitted()),
              Verdict::accept(VerdictReason::kTracked));
    // (With EngineConfig::bypass_established this verdict also carries `bypass`.)
    ASSERT_EQ(send(c2s().seq(1001).ack(5001).window(502)).reason, VerdictReason::kTracked);
    ASSERT_EQ(state(), TcpState::kEstablished);
  }

  testing::ManualClock clock_;
  testing::CapturingSink sink_;
  RecordingObserver observer_;
  std::optional<Engine> engine_;
};

}  // namespace synguard::engine
