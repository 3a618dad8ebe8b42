#pragma once

#include <array>
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
  static IpAddress v4(std::uint32_t host_order) noexcept;
  static IpAddress v6(const std::uint8_t* b16) noexcept;
  /// Parses dotted-quad or RFC 5952 text. Not for the packet path.
  static std::optional<IpAddress> parse(std::string_view text);

  bool isV4() const noexcept;
  /// The IPv4 address in host order; only meaningful when isV4().
  std::uint32_t v4HostOrder() const noexcept;
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

 private:
  std::array<std::uint8_t, 16> b_{};
};

}  // namespace synguard::engine
