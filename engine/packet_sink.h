#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace synguard::engine {

enum class Direction : std::uint8_t { kToClient, kToServer };

/// Where the engine sends packets it originates (SYN cookies, proxy handshakes: later issues).
class PacketSink {
 public:
  virtual ~PacketSink() = default;
  virtual void emit(Direction dir, std::span<const std::byte> ip_packet) noexcept = 0;
};

}  // namespace synguard::engine
