#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace synguard::engine {

/// One's-complement sum of 16-bit big-endian words (RFC 1071), not yet folded or inverted.
std::uint32_t checksumPartial(std::span<const std::byte> data, std::uint32_t sum = 0) noexcept;
/// Folds a partial sum and returns its one's complement: the value to put in a header.
std::uint16_t checksumFinish(std::uint32_t sum) noexcept;
/// The Internet checksum of `data` (RFC 1071).
std::uint16_t internetChecksum(std::span<const std::byte> data) noexcept;

/// TCP checksum over the pseudo-header (RFC 9293 §3.1 for IPv4, RFC 8200 §8.1 for IPv6) and the
/// TCP segment `tcp` (header + payload, with its checksum field as it stands). Returns 0 when
/// the segment's checksum is correct if that field was left in place.
std::uint16_t tcpChecksum(std::span<const std::byte> ip_packet, std::size_t tcp_offset,
                          std::size_t tcp_length) noexcept;

/// RFC 1624 eqn. 3 incremental update: HC' = ~(~HC + ~m + m').
std::uint16_t checksumUpdate16(std::uint16_t check, std::uint16_t old_word,
                               std::uint16_t new_word) noexcept;
std::uint16_t checksumUpdate32(std::uint16_t check, std::uint32_t old_value,
                               std::uint32_t new_value) noexcept;

}  // namespace synguard::engine
