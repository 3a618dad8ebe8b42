#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace synguard::engine {

enum class Direction : std::uint8_t { kToClient, kToServer };

/// Where the engine sends the packets it originates: cookie SYN-ACKs, and the proxy's side of
/// its connections (the handshake with the server, ACKs, RSTs). Only the Protector
/// (engine/protect/) emits; tracking alone sends nothing.
class PacketSink {
 public:
  virtual ~PacketSink() = default;
  virtual void emit(Direction dir, std::span<const std::byte> ip_packet) noexcept = 0;
  /// Optional zero-copy path for packets the engine writes from scratch (cookie SYN-ACKs, the
  /// proxy's SYNs and ACKs): room for one packet of the family of up to `max` bytes, which the
  /// engine fills and then hands over with commit(). An empty span (the default) means "not
  /// offered": the engine writes into its own buffer and calls emit().
  virtual std::span<std::byte> reserve(bool /*ipv6*/, std::size_t /*max*/) noexcept { return {}; }
  /// The packet written into the room reserve() gave, `length` bytes of it.
  virtual void commit(Direction /*dir*/, std::size_t /*length*/) noexcept {}
};

}  // namespace synguard::engine
