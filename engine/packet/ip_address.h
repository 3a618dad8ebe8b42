#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace synguard::engine {

/// An IPv4 or IPv6 address. IPv4 is stored as an IPv4-mapped IPv6 address (::ffff:a.b.c.d,
/// RFC 4291 §2.5.5.2) so one 16-byte key serves both families.
class IpAddress {
 public:
  constexpr IpAddress() noexcept = default;

  static IpAddress v4(const std::uint8_t (&b)[4]) noexcept;
  /// Inline (as v4HostOrder): both sit on the packet path, in the parser and the writer.
  static IpAddress v4(std::uint32_t host_order) noexcept {
    IpAddress a;
    constexpr std::uint32_t kMapped =
        std::endian::native == std::endian::little ? 0xffff0000U : 0x0000ffffU;
    const std::uint32_t be =
        std::endian::native == std::endian::little ? __builtin_bswap32(host_order) : host_order;
    __builtin_memcpy(a.b_.data() + 8, &kMapped, sizeof kMapped);
    __builtin_memcpy(a.b_.data() + 12, &be, sizeof be);
    return a;
  }
  static IpAddress v6(const std::uint8_t* b16) noexcept;
  /// Parses dotted-quad or RFC 5952 text. Not for the packet path.
  static std::optional<IpAddress> parse(std::string_view text);

  bool isV4() const noexcept {
    // ::ffff:0:0/96: eight zero bytes, then 00 00 ff ff.
    std::uint32_t mid;
    __builtin_memcpy(&mid, b_.data() + 8, sizeof mid);
    constexpr std::uint32_t kMapped =
        std::endian::native == std::endian::little ? 0xffff0000U : 0x0000ffffU;
    return word(0) == 0 && mid == kMapped;
  }
  /// The IPv4 address in host order; only meaningful when isV4().
  std::uint32_t v4HostOrder() const noexcept {
    std::uint32_t w;
    __builtin_memcpy(&w, b_.data() + 12, sizeof w);
    return std::endian::native == std::endian::little ? __builtin_bswap32(w) : w;
  }
  const std::array<std::uint8_t, 16>& bytes() const noexcept { return b_; }
  std::array<std::uint8_t, 16>& mutableBytes() noexcept { return b_; }

  /// The address with all bits past `prefix_len` cleared. For IPv4 the length counts IPv4 bits.
  IpAddress masked(unsigned prefix_len) const noexcept;

  std::string toString() const;

  bool operator==(const IpAddress& o) const noexcept {
    // Two 8-byte compares; the defaulted operator calls memcmp on the packet path.
    return word(0) == o.word(0) && word(1) == o.word(1);
  }
  /// The address as two native-order 64-bit words (for hashing and fast compares).
  std::uint64_t word(int i) const noexcept {
    std::uint64_t w;
    __builtin_memcpy(&w, b_.data() + 8 * i, sizeof w);
    return w;
  }
  constexpr auto operator<=>(const IpAddress&) const noexcept = default;
  /// The address's bytes as a big-endian 64-bit number (i = 0: bytes 0-7, 1: bytes 8-15).
  std::uint64_t be(int i) const noexcept {
    const std::uint64_t w = word(i);
    return std::endian::native == std::endian::little ? __builtin_bswap64(w) : w;
  }
  /// The same order as operator<, in two integer compares (no memcmp on the packet path).
  static bool less(const IpAddress& a, const IpAddress& b) noexcept {
    const std::uint64_t a0 = a.be(0);
    const std::uint64_t b0 = b.be(0);
    return a0 != b0 ? a0 < b0 : a.be(1) < b.be(1);
  }

 private:
  std::array<std::uint8_t, 16> b_{};
};

}  // namespace synguard::engine
