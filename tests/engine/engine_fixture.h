#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/engine.h"
#include "engine/track/outcome.h"
#include "tests/support/engine_harness.h"

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
class EngineTest : public ::testing::Test, protected testing::EngineHarness {
 protected:
  static constexpr const char* kClient = "192.0.2.10";
  static constexpr const char* kServer = "198.51.100.1";
  static constexpr std::uint16_t kCport = 40000;
  static constexpr std::uint16_t kSport = 80;

  void SetUp() override { start(EngineConfig{}); }

  void start(const EngineConfig& cfg) {
    observer_.ended.clear();
    EngineHarness::start(cfg, &observer_, MonotonicTime{std::chrono::seconds(1000)});
  }

  testing::PacketBuilder c2s() const {
    return testing::PacketBuilder::ipv4(kClient, kServer).tcp(kCport, kSport);
  }
  testing::PacketBuilder s2c() const {
    return testing::PacketBuilder::ipv4(kServer, kClient).tcp(kSport, kCport);
  }

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

  RecordingObserver observer_;
};

}  // namespace synguard::engine
