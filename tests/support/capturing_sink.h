#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "engine/packet_sink.h"

namespace synguard::testing {

/// Keeps a copy of every packet the engine emits.
class CapturingSink : public engine::PacketSink {
 public:
  void emit(engine::Direction dir, std::span<const std::byte> pkt) noexcept override {
    directions_.push_back(dir);
    packets_.emplace_back(pkt.begin(), pkt.end());
  }
  const std::vector<std::vector<std::byte>>& packets() const { return packets_; }
  const std::vector<engine::Direction>& directions() const { return directions_; }
  void clear() {
    packets_.clear();
    directions_.clear();
  }

 private:
  std::vector<std::vector<std::byte>> packets_;
  std::vector<engine::Direction> directions_;
};

}  // namespace synguard::testing
