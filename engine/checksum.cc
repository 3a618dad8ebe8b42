#include "engine/checksum.h"

namespace synguard::engine {

std::uint32_t checksumPartial(std::span<const std::byte> data, std::uint32_t sum) noexcept {
  std::size_t i = 0;
  const std::size_t n = data.size();
  // 64-bit accumulator: no carry handling needed inside the loop for any IP-sized buffer.
  std::uint64_t acc = sum;
  for (; i + 1 < n; i += 2) {
    acc += (std::uint32_t{std::to_integer<std::uint8_t>(data[i])} << 8) |
           std::to_integer<std::uint8_t>(data[i + 1]);
  }
  if (i < n) {
    acc += std::uint32_t{std::to_integer<std::uint8_t>(data[i])} << 8;  // pad odd byte
  }
  while ((acc >> 32) != 0) {
    acc = (acc & 0xffffffffULL) + (acc >> 32);
  }
  return static_cast<std::uint32_t>(acc);
}

std::uint16_t checksumFinish(std::uint32_t sum) noexcept {
  while ((sum >> 16) != 0) {
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return static_cast<std::uint16_t>(~sum & 0xffff);
}

std::uint16_t internetChecksum(std::span<const std::byte> data) noexcept {
  return checksumFinish(checksumPartial(data));
}

std::uint16_t tcpChecksum(std::span<const std::byte> ip, std::size_t tcp_offset,
                          std::size_t tcp_length) noexcept {
  if (ip.empty() || tcp_offset + tcp_length > ip.size()) {
    return 0xffff;  // cannot be computed: never equals a valid result of 0
  }
  std::uint32_t sum = 0;
  const auto version = std::to_integer<std::uint8_t>(ip[0]) >> 4;
  if (version == 4 && ip.size() >= 20) {
    sum = checksumPartial(ip.subspan(12, 8), sum);  // source and destination addresses
  } else if (version == 6 && ip.size() >= 40) {
    // RFC 8200 §8.1. With a Routing header the final destination belongs here; synguard does
    // not rewrite such packets, and they are verified against the header's destination.
    sum = checksumPartial(ip.subspan(8, 32), sum);
  } else {
    return 0xffff;
  }
  sum += 6;  // protocol
  sum += static_cast<std::uint32_t>(tcp_length >> 16) +
         static_cast<std::uint32_t>(tcp_length & 0xffff);
  sum = checksumPartial(ip.subspan(tcp_offset, tcp_length), sum);
  return checksumFinish(sum);
}

std::uint16_t checksumUpdate16(std::uint16_t check, std::uint16_t old_word,
                               std::uint16_t new_word) noexcept {
  // RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), in one's-complement arithmetic.
  std::uint32_t sum = static_cast<std::uint16_t>(~check);
  sum += static_cast<std::uint16_t>(~old_word);
  sum += new_word;
  return checksumFinish(sum);
}

std::uint16_t checksumUpdate32(std::uint16_t check, std::uint32_t old_value,
                               std::uint32_t new_value) noexcept {
  std::uint32_t sum = static_cast<std::uint16_t>(~check);
  sum += static_cast<std::uint16_t>(~(old_value >> 16));
  sum += static_cast<std::uint16_t>(~(old_value & 0xffff));
  sum += new_value >> 16;
  sum += new_value & 0xffff;
  return checksumFinish(sum);
}

}  // namespace synguard::engine
