#include "engine/packet/ip_address.h"

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace synguard::engine {

namespace {
constexpr std::array<std::uint8_t, 12> kV4MappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/// Four decimal parts of at most 3 digits, each up to 255, nothing after them.
std::optional<std::uint32_t> parseDottedQuad(const std::string& s) {
  unsigned a = 0;
  unsigned b = 0;
  unsigned c = 0;
  unsigned d = 0;
  char tail = 0;
  if (std::sscanf(s.c_str(), "%3u.%3u.%3u.%3u%c", &a, &b, &c, &d, &tail) != 4 || a > 255 ||
      b > 255 || c > 255 || d > 255) {
    return std::nullopt;
  }
  return (a << 24) | (b << 16) | (c << 8) | d;
}

/// The groups of IPv6 text (RFC 4291 §2.2) in the order written; `gap` is where "::" stood
/// (-1 without one).
struct Ipv6Groups {
  std::array<std::uint16_t, 8> groups{};
  int n = 0;
  int gap = -1;
};

/// A part between colons: 1 to 4 hex digits, or a dotted quad when it is the last part.
bool appendIpv6Part(const std::string& part, bool last, Ipv6Groups& g) {
  if (part.find('.') != std::string::npos) {
    const std::optional<std::uint32_t> v = parseDottedQuad(part);
    if (!v || g.n > 6 || !last) {
      return false;
    }
    g.groups[static_cast<std::size_t>(g.n++)] = static_cast<std::uint16_t>(*v >> 16);
    g.groups[static_cast<std::size_t>(g.n++)] = static_cast<std::uint16_t>(*v & 0xffff);
    return true;
  }
  if (part.empty() || part.size() > 4 ||
      part.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
    return false;
  }
  // Checked above: 1 to 4 hex digits, so from_chars cannot fail or overflow (std::stoul reports
  // errors by exception, and the engine has none).
  std::uint16_t group = 0;
  std::from_chars(part.data(), part.data() + part.size(), group, 16);
  g.groups[static_cast<std::size_t>(g.n++)] = group;
  return true;
}

/// Splits IPv6 text at its colons: at most one "::", a trailing dotted quad only last.
bool splitIpv6Groups(const std::string& s, Ipv6Groups& g) {
  std::size_t i = 0;
  if (s.rfind("::", 0) == 0) {
    g.gap = 0;
    i = 2;
  }
  while (i < s.size()) {
    if (g.n >= 8) {
      return false;
    }
    const std::size_t colon = s.find(':', i);
    const std::string part =
        s.substr(i, colon == std::string::npos ? std::string::npos : colon - i);
    const bool last = colon == std::string::npos;
    if (!appendIpv6Part(part, last, g)) {
      return false;
    }
    if (last || part.find('.') != std::string::npos) {
      return true;
    }
    i = colon + 1;
    if (i < s.size() && s[i] == ':') {
      if (g.gap >= 0) {
        return false;
      }
      g.gap = g.n;
      ++i;
    } else if (i == s.size()) {
      return false;  // a single trailing colon
    }
  }
  return true;
}

/// The eight groups, the "::" gap filled with zeros.
std::optional<IpAddress> expandIpv6Groups(const Ipv6Groups& g) {
  if (g.gap < 0 && g.n != 8) {
    return std::nullopt;
  }
  std::array<std::uint16_t, 8> full{};
  if (g.gap >= 0) {
    const int tail_len = g.n - g.gap;
    if (g.n >= 8) {
      return std::nullopt;
    }
    // The groups before "::" stay in front, those after it go to the end.
    const auto head = g.groups.begin() + g.gap;
    std::copy(g.groups.begin(), head, full.begin());
    std::copy(head, head + tail_len, full.end() - tail_len);
  } else {
    full = g.groups;
  }
  std::uint8_t b[16];
  for (std::size_t k = 0; k < 8; ++k) {
    b[2 * k] = static_cast<std::uint8_t>(full[k] >> 8);
    b[2 * k + 1] = static_cast<std::uint8_t>(full[k] & 0xff);
  }
  return IpAddress::v6(b);
}

}  // namespace

IpAddress IpAddress::v4(const std::uint8_t (&b)[4]) noexcept {
  IpAddress a;
  std::copy(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), a.b_.begin());
  std::copy(std::begin(b), std::end(b), a.b_.begin() + 12);
  return a;
}

IpAddress IpAddress::v6(const std::uint8_t* b16) noexcept {
  IpAddress a;
  std::copy(b16, b16 + 16, a.b_.begin());
  return a;
}

IpAddress IpAddress::masked(unsigned prefix_len) const noexcept {
  const unsigned bits = isV4() ? 96 + std::min(prefix_len, 32U) : std::min(prefix_len, 128U);
  const std::uint64_t hi = bits >= 64 ? ~0ULL : (bits == 0 ? 0ULL : ~0ULL << (64 - bits));
  const std::uint64_t lo = bits >= 128 ? ~0ULL : (bits <= 64 ? 0ULL : ~0ULL << (128 - bits));
  const std::uint64_t w[2] = {be(0) & hi, be(1) & lo};
  IpAddress out;
  for (std::size_t i = 0; i < 16; ++i) {
    out.b_[i] = static_cast<std::uint8_t>(w[i / 8] >> (56 - 8 * (i % 8)));
  }
  return out;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  const std::string s(text);
  if (s.find(':') == std::string::npos) {
    const std::optional<std::uint32_t> v = parseDottedQuad(s);
    return v ? std::optional{v4(*v)} : std::nullopt;
  }
  Ipv6Groups g;
  if (!splitIpv6Groups(s, g)) {
    return std::nullopt;
  }
  return expandIpv6Groups(g);
}

std::string IpAddress::toString() const {
  char buf[64];
  if (isV4()) {
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", b_[12], b_[13], b_[14], b_[15]);
    return buf;
  }
  // RFC 5952: lowercase hex, longest run (>= 2) of zero groups compressed, first run on ties.
  std::array<unsigned, 8> g{};
  for (std::size_t k = 0; k < 8; ++k) {
    g[k] = (unsigned{b_[2 * k]} << 8) | b_[2 * k + 1];
  }
  int best = -1;
  int best_len = 0;
  for (int k = 0; k < 8;) {
    if (g[static_cast<std::size_t>(k)] != 0) {
      ++k;
      continue;
    }
    int j = k;
    while (j < 8 && g[static_cast<std::size_t>(j)] == 0) {
      ++j;
    }
    if (j - k > best_len && j - k >= 2) {
      best = k;
      best_len = j - k;
    }
    k = j;
  }
  std::string out;
  for (int k = 0; k < 8; ++k) {
    if (k == best) {
      out += "::";
      k += best_len - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') {
      out += ':';
    }
    std::snprintf(buf, sizeof buf, "%x", g[static_cast<std::size_t>(k)]);
    out += buf;
  }
  return out;
}

}  // namespace synguard::engine
