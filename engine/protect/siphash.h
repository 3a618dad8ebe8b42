#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace synguard::engine {

/// A 128-bit SipHash key (Aumasson & Bernstein, "SipHash: a fast short-input PRF", 2012).
struct SipKey {
  std::uint64_t k0 = 0;
  std::uint64_t k1 = 0;
  static SipKey fromBytes(const std::array<std::uint8_t, 16>& b) noexcept;
};

/// SipHash-2-4 of `data` (little-endian words, as the reference implementation).
std::uint64_t sipHash24(const SipKey& key, std::span<const std::uint8_t> data) noexcept;
/// SipHash-2-4 of the message made of `words` in little-endian byte order (8 bytes each): the
/// same value as sipHash24 over those bytes, without the byte shuffling (the cookie hot path).
std::uint64_t sipHash24Words(const SipKey& key, std::span<const std::uint64_t> words) noexcept;

}  // namespace synguard::engine
