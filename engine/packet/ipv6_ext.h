#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace synguard::engine {

/// Longest IPv6 extension header chain the parsers follow. RFC 8200 §4.1 recommends each
/// header at most once (twice for Destination Options), so 8 covers every sane chain.
constexpr std::size_t kMaxIpv6ExtensionHeaders = 8;

/// Where an IPv6 extension header walk stands: `next` is the Next Header value of the header
/// at `off`, counted from the start of the buffer.
struct Ipv6Chain {
  std::uint8_t next = 0;
  std::size_t off = 0;
  /// After Ipv6Walk::kTruncated: the end offset of the read that did not fit.
  std::size_t need = 0;
};

enum class Ipv6Walk : std::uint8_t {
  kFound,      ///< `next` is the protocol sought; `off` is where it starts
  kOther,      ///< `next` is another upper-layer protocol (not an extension header)
  kTruncated,  ///< a header runs past `end` (see Ipv6Chain::need)
  kTooMany,    ///< more than kMaxIpv6ExtensionHeaders precede the protocol sought
  kStopped,    ///< the Fragment header callback declined to go on
  kAdvanced,   ///< (stepIpv6Extension only) moved past one extension header
};

/// RFC 8200 §4: moves `chain` past the extension header at `chain.off` in `p`, whose bytes
/// up to `end` (bounded by the caller by the buffer) may be read. A Fragment header (RFC 8200
/// §4.5) is passed only when `on_fragment(offset, fragment offset and flags word)` returns
/// true; the callback judges it once its 8 bytes are known to be in bounds.
template <typename OnFragment>
inline Ipv6Walk stepIpv6Extension(std::span<const std::byte> p, std::size_t end, Ipv6Chain& chain,
                                  OnFragment&& on_fragment) noexcept {
  const auto at = [p](std::size_t i) noexcept { return std::to_integer<std::uint8_t>(p[i]); };
  const auto truncated = [&chain](std::size_t need) noexcept {
    chain.need = need;
    return Ipv6Walk::kTruncated;
  };
  const std::size_t off = chain.off;
  std::size_t len = 0;
  switch (chain.next) {
    case 0:    // Hop-by-Hop Options
    case 43:   // Routing
    case 60:   // Destination Options
    case 135:  // Mobility
    case 139:  // HIP
    case 140:  // Shim6
      if (off + 2 > end) {
        return truncated(off + 2);
      }
      len = (std::size_t{at(off + 1)} + 1) * 8;  // RFC 8200 §4.3: 8-byte units minus 1
      break;
    case 51:  // Authentication Header, RFC 4302 §2.2: length in 4-byte units minus 2
      if (off + 2 > end) {
        return truncated(off + 2);
      }
      len = (std::size_t{at(off + 1)} + 2) * 4;
      break;
    case 44:  // Fragment, RFC 8200 §4.5: always 8 bytes
      if (off + 8 > end) {
        return truncated(off + 8);
      }
      if (!on_fragment(off, static_cast<std::uint16_t>((at(off + 2) << 8) | at(off + 3)))) {
        return Ipv6Walk::kStopped;
      }
      len = 8;
      break;
    default:  // No Next Header (59), ESP (50), UDP, ICMPv6, TCP, ...
      return Ipv6Walk::kOther;
  }
  if (off + len > end) {
    return truncated(off + len);
  }
  chain.next = at(off);
  chain.off = off + len;
  return Ipv6Walk::kAdvanced;
}

/// Follows the extension header chain from `chain` to the header `want`, at most
/// kMaxIpv6ExtensionHeaders deep (see stepIpv6Extension). Inline because it runs for every
/// IPv6 packet and its callbacks are small. Never returns kAdvanced.
template <typename OnFragment>
inline Ipv6Walk walkIpv6Extensions(std::span<const std::byte> p, std::size_t end, std::uint8_t want,
                                   Ipv6Chain& chain, OnFragment&& on_fragment) noexcept {
  for (std::size_t n = 0;; ++n) {
    if (chain.next == want) {
      return Ipv6Walk::kFound;
    }
    if (n >= kMaxIpv6ExtensionHeaders) {
      return Ipv6Walk::kTooMany;
    }
    if (const Ipv6Walk w = stepIpv6Extension(p, end, chain, on_fragment);
        w != Ipv6Walk::kAdvanced) {
      return w;
    }
  }
}

}  // namespace synguard::engine
