#pragma once

#include <cstdint>

#include "engine/packet/ip_address.h"

namespace synguard::engine {

/// A TCP connection's identity, stored originator first. The protocol is always TCP, so the
/// 5-tuple's fifth member is implicit. Lookups match either orientation (see ConnectionTable).
struct FlowKey {
  IpAddress orig_addr;
  IpAddress resp_addr;
  std::uint16_t orig_port = 0;
  std::uint16_t resp_port = 0;

  bool operator==(const FlowKey&) const noexcept = default;
  FlowKey reversed() const noexcept { return FlowKey{resp_addr, orig_addr, resp_port, orig_port}; }
};

/// A keyed hash for attacker-chosen keys (spoofed sources): without the secret seed an attacker
/// cannot aim many tuples at one bucket. 64x64->128 multiply-fold mixing in the style of wyhash;
/// not a MAC, but its output is not predictable without the seed. Symmetric in the two endpoints
/// so both directions of a connection hash alike.
class FlowHasher {
 public:
  constexpr explicit FlowHasher(std::uint64_t seed = 0x243f6a8885a308d3ULL) noexcept
      : seed_(seed) {}
  std::uint64_t operator()(const FlowKey& k) const noexcept;
  /// One endpoint (a service, a source prefix): two keyed rounds, the port in the second.
  std::uint64_t one(const IpAddress& a, std::uint16_t port) const noexcept;

 private:
  std::uint64_t seed_;
};

}  // namespace synguard::engine
