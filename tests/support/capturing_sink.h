#pragma once

#include <array>
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
  /// The zero-copy path, as the daemon's raw sender offers it (unless offer_room is false).
  std::span<std::byte> reserve(bool /*ipv6*/, std::size_t max) noexcept override {
    if (!offer_room || max > room_.size()) {
      return {};
    }
    room_.fill(std::byte{0xee});  // the engine must write every byte it commits
    return std::span<std::byte>(room_);
  }
  void commit(engine::Direction dir, std::size_t length) noexcept override {
    directions_.push_back(dir);
    packets_.emplace_back(room_.begin(), room_.begin() + static_cast<std::ptrdiff_t>(length));
  }
  bool offer_room = true;
  const std::vector<std::vector<std::byte>>& packets() const { return packets_; }
  const std::vector<engine::Direction>& directions() const { return directions_; }
  void clear() {
    packets_.clear();
    directions_.clear();
  }

 private:
  std::vector<std::vector<std::byte>> packets_;
  std::vector<engine::Direction> directions_;
  std::array<std::byte, 256> room_{};
};

}  // namespace synguard::testing
