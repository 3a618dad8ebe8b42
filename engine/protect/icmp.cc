#include "engine/protect/icmp.h"

#include <algorithm>

#include "engine/packet/checksum.h"

namespace synguard::engine {

namespace {

constexpr std::uint8_t kProtoIcmp = 1;
constexpr std::uint8_t kProtoTcp = 6;
constexpr std::uint8_t kProtoIcmpv6 = 58;
constexpr std::size_t kIcmpHeader = 8;   // type, code, checksum, 4 bytes (RFC 792, RFC 4443 §2.1)
constexpr std::size_t kMinTcpQuote = 8;  // ports and seq: all RFC 792 promises
constexpr std::size_t kMaxExtensionHeaders = 8;

std::uint8_t u8(std::span<const std::byte> p, std::size_t i) noexcept {
  return std::to_integer<std::uint8_t>(p[i]);
}
std::uint16_t be16(std::span<const std::byte> p, std::size_t i) noexcept {
  return static_cast<std::uint16_t>((u8(p, i) << 8) | u8(p, i + 1));
}
std::uint32_t be32(std::span<const std::byte> p, std::size_t i) noexcept {
  return (std::uint32_t{be16(p, i)} << 16) | be16(p, i + 2);
}
void store32(std::span<std::byte> p, std::size_t i, std::uint32_t v) noexcept {
  p[i] = static_cast<std::byte>(v >> 24);
  p[i + 1] = static_cast<std::byte>(v >> 16);
  p[i + 2] = static_cast<std::byte>(v >> 8);
  p[i + 3] = static_cast<std::byte>(v);
}

IpAddress v6At(std::span<const std::byte> p, std::size_t i) noexcept {
  std::uint8_t a[16];
  for (std::size_t k = 0; k < 16; ++k) {
    a[k] = u8(p, i + k);
  }
  return IpAddress::v6(a);
}

enum class Walk : std::uint8_t { kFound, kOther, kTruncated };

/// RFC 8200 §4: follows an IPv6 extension header chain from `next` at `off` up to `end` to the
/// upper-layer header; `proto` and `off` end on it. A Fragment header is followed only at
/// offset 0 when `first_fragment_ok` (the first fragment carries the upper-layer header).
Walk walkV6(std::span<const std::byte> p, std::size_t end, std::uint8_t& next, std::size_t& off,
            bool first_fragment_ok) noexcept {
  for (std::size_t n = 0; n <= kMaxExtensionHeaders; ++n) {
    std::size_t len = 0;
    switch (next) {
      case 0:    // Hop-by-Hop Options
      case 43:   // Routing
      case 60:   // Destination Options
      case 135:  // Mobility
      case 139:  // HIP
      case 140:  // Shim6
        if (off + 2 > end) {
          return Walk::kTruncated;
        }
        len = (std::size_t{u8(p, off + 1)} + 1) * 8;
        break;
      case 51:  // Authentication Header, RFC 4302 §2.2
        if (off + 2 > end) {
          return Walk::kTruncated;
        }
        len = (std::size_t{u8(p, off + 1)} + 2) * 4;
        break;
      case 44:  // Fragment, RFC 8200 §4.5
        if (!first_fragment_ok) {
          return Walk::kOther;
        }
        if (off + 8 > end) {
          return Walk::kTruncated;
        }
        if ((be16(p, off + 2) & 0xfff8U) != 0) {
          return Walk::kOther;  // a later fragment: no upper-layer header
        }
        len = 8;
        break;
      default:
        return Walk::kFound;
    }
    if (off + len > end) {
      return Walk::kTruncated;
    }
    next = u8(p, off);
    off += len;
  }
  return Walk::kOther;  // longer chains than the segment parser follows
}

/// RFC 1071 fold of a partial sum into 16 bits.
std::uint16_t fold(std::uint32_t sum) noexcept {
  return static_cast<std::uint16_t>(~checksumFinish(sum));
}

/// RFC 1624 eqn. 3 for a whole region: HC' = ~(~HC + ~m + m'), m and m' the region's folded
/// sums before and after (the region starts at an even offset from the checksum's start).
std::uint16_t adjust(std::uint16_t check, std::uint32_t before, std::uint32_t after) noexcept {
  std::uint32_t s = static_cast<std::uint16_t>(~check);
  s += static_cast<std::uint16_t>(~fold(before));
  s += fold(after);
  return checksumFinish(s);
}

/// The quoted TCP header's words its checksum covers, the checksum field excepted.
std::uint32_t tcpHeaderSum(std::span<const std::byte> p, const IcmpQuote& q) noexcept {
  const std::size_t t = q.tcp_offset;
  return checksumPartial(p.subspan(t + 18, q.tcp_bytes - 18U), checksumPartial(p.subspan(t, 16)));
}

}  // namespace

std::string_view toString(IcmpOutcome o) noexcept {
  switch (o) {
    case IcmpOutcome::kToServer:
      return "to_server";
    case IcmpOutcome::kToClient:
      return "to_client";
    case IcmpOutcome::kNotProxied:
      return "not_proxied";
    case IcmpOutcome::kHandshake:
      return "handshake";
    case IcmpOutcome::kNoConnection:
      return "no_connection";
    case IcmpOutcome::kMisdirected:
      return "misdirected";
    case IcmpOutcome::kTruncated:
      return "truncated";
    case IcmpOutcome::kBadQuote:
      return "bad_quote";
    case IcmpOutcome::kCount:
      break;
  }
  return "unknown";
}

IcmpParse parseIcmpError(std::span<const std::byte> p, IcmpQuote& out) noexcept {
  out = IcmpQuote{};
  if (p.empty()) {
    return IcmpParse::kOther;
  }
  // The outer header: parseSegment() has checked its lengths; the datagram ends at `end`
  // (bounded by what the buffer holds).
  std::size_t icmp = 0;
  std::size_t end = 0;
  const std::uint8_t version = u8(p, 0) >> 4;
  if (version == 4) {
    if (p.size() < 20 || u8(p, 9) != kProtoIcmp) {
      return IcmpParse::kOther;
    }
    icmp = std::size_t{u8(p, 0) & 0x0fU} * 4;
    end = std::min<std::size_t>(be16(p, 2), p.size());
    out.to = IpAddress::v4(be32(p, 16));
  } else if (version == 6) {
    if (p.size() < 40) {
      return IcmpParse::kOther;
    }
    end = std::min<std::size_t>(40 + std::size_t{be16(p, 4)}, p.size());
    std::uint8_t next = u8(p, 6);
    icmp = 40;
    if (walkV6(p, end, next, icmp, false) != Walk::kFound || next != kProtoIcmpv6) {
      return IcmpParse::kOther;
    }
    out.to = v6At(p, 24);
  } else {
    return IcmpParse::kOther;
  }
  if (icmp + 1 > end) {
    return IcmpParse::kOther;
  }
  const std::uint8_t type = u8(p, icmp);
  bool error = false;
  if (version == 4) {
    // RFC 792: destination unreachable (3), time exceeded (11), parameter problem (12).
    error = type == 3 || type == 11 || type == 12;
  } else {
    // RFC 4443 §3: destination unreachable (1), packet too big (2), time exceeded (3),
    // parameter problem (4).
    error = type >= 1 && type <= 4;
  }
  if (!error) {
    return IcmpParse::kOther;
  }
  if (icmp + kIcmpHeader > end) {
    return IcmpParse::kTruncated;
  }
  out.ip_version = version;
  out.type = type;
  out.code = u8(p, icmp + 1);
  out.icmp_offset = static_cast<std::uint16_t>(icmp);

  // The quoted datagram: as much of it as the error carries (RFC 1812 §4.3.2.3: up to 576
  // bytes; RFC 4443 §2.4(c): up to the IPv6 minimum MTU).
  const std::size_t q = icmp + kIcmpHeader;
  std::size_t tcp = 0;
  if (q + 1 > end) {
    return IcmpParse::kTruncated;
  }
  const std::uint8_t qversion = u8(p, q) >> 4;
  if (qversion != version) {
    return IcmpParse::kBadQuote;  // ICMP quotes its own IP version
  }
  if (version == 4) {
    if (q + 20 > end) {
      return IcmpParse::kTruncated;
    }
    const std::size_t ihl = std::size_t{u8(p, q) & 0x0fU} * 4;
    if (ihl < 20) {
      return IcmpParse::kBadQuote;
    }
    if (u8(p, q + 9) != kProtoTcp || (be16(p, q + 6) & 0x1fffU) != 0) {
      return IcmpParse::kOther;  // another protocol, or a later fragment (no TCP header)
    }
    out.src = IpAddress::v4(be32(p, q + 12));
    out.dst = IpAddress::v4(be32(p, q + 16));
    tcp = q + ihl;
  } else {
    if (q + 40 > end) {
      return IcmpParse::kTruncated;
    }
    std::uint8_t next = u8(p, q + 6);
    tcp = q + 40;
    switch (walkV6(p, end, next, tcp, true)) {
      case Walk::kFound:
        break;
      case Walk::kOther:
        return IcmpParse::kOther;
      case Walk::kTruncated:
        return IcmpParse::kTruncated;
    }
    if (next != kProtoTcp) {
      return IcmpParse::kOther;
    }
    out.src = v6At(p, q + 8);
    out.dst = v6At(p, q + 24);
  }
  if (tcp + kMinTcpQuote > end) {
    return IcmpParse::kTruncated;
  }
  std::size_t quoted = std::min<std::size_t>(end - tcp, 60);
  if (quoted >= 13) {
    const std::size_t hlen = std::size_t{u8(p, tcp + 12)} / 16 * 4;
    if (hlen < 20) {
      return IcmpParse::kBadQuote;
    }
    quoted = std::min(quoted, hlen);
    // The options translation touches (RFC 7323 timestamps, RFC 2018 SACK), as far as they are
    // quoted. A malformed option list is left alone; the receiver's TCP ignores options here.
    const std::size_t qend = tcp + quoted;
    for (std::size_t i = tcp + 20; i < qend;) {
      const std::uint8_t kind = u8(p, i);
      if (kind == 0) {
        break;
      }
      if (kind == 1) {
        ++i;
        continue;
      }
      if (i + 2 > qend) {
        break;
      }
      const std::size_t len = u8(p, i + 1);
      if (len < 2 || i + len > tcp + hlen) {
        break;
      }
      if (kind == 8 && len == 10) {
        out.ts_offset = static_cast<std::uint16_t>(i + 2);
      } else if (kind == 5 && len >= 10 && (len - 2) % 8 == 0) {
        out.sack_offset = static_cast<std::uint16_t>(i + 2);
        out.sack_count = static_cast<std::uint8_t>((len - 2) / 8);
      }
      i += len;
    }
  }
  out.src_port = be16(p, tcp);
  out.dst_port = be16(p, tcp + 2);
  out.tcp_offset = static_cast<std::uint16_t>(tcp);
  out.tcp_bytes = static_cast<std::uint16_t>(quoted);
  return IcmpParse::kTcpQuote;
}

void translateQuote(std::span<std::byte> p, const IcmpQuote& q, const Translation& t,
                    bool to_server) noexcept {
  const std::size_t tcp = q.tcp_offset;
  const auto region = std::span<const std::byte>(p.subspan(tcp, q.tcp_bytes));
  const bool has_check = q.tcp_bytes >= 18;
  const std::uint32_t icmp_before = checksumPartial(region);
  const std::uint32_t tcp_before = has_check ? tcpHeaderSum(p, q) : 0;
  const auto add = [&](std::size_t at, std::uint32_t delta) {
    store32(p, at, be32(p, at) + delta);
  };
  // Only fields quoted whole are moved; the quoted checksum covers the whole segment, so it
  // stays right for it as far as the quote let us restore it.
  const std::size_t qend = tcp + q.tcp_bytes;
  const auto quoted = [&](std::size_t at) { return at + 4 <= qend; };
  if (to_server) {
    add(tcp + 4, t.seq_delta);  // seq: cookie space -> server space
    if (q.ts_offset != 0 && quoted(q.ts_offset)) {
      add(q.ts_offset, 0U - t.ts_off);  // TSval: the client-visible clock -> the server's
    }
  } else {
    // A client segment without ACK (a bare RST) carries no server sequence number.
    const bool ack = q.tcp_bytes < 14 || (u8(p, tcp + 13) & 0x10U) != 0;
    if (ack && quoted(tcp + 8)) {
      add(tcp + 8, 0U - t.seq_delta);  // ack: server space -> cookie space
    }
    for (std::size_t i = 0; q.sack_offset != 0 && i < q.sack_count; ++i) {
      for (const std::size_t at : {q.sack_offset + 8 * i, q.sack_offset + 8 * i + 4}) {
        if (quoted(at)) {
          add(at, 0U - t.seq_delta);
        }
      }
    }
    if (q.ts_offset != 0 && quoted(q.ts_offset + 4U)) {
      add(q.ts_offset + 4U, t.ts_off);  // TSecr: the server's clock -> the client-visible one
    }
  }
  if (has_check) {
    const std::uint16_t check = adjust(be16(p, tcp + 16), tcp_before, tcpHeaderSum(p, q));
    p[tcp + 16] = static_cast<std::byte>(check >> 8);
    p[tcp + 17] = static_cast<std::byte>(check);
  }
  const std::size_t ic = q.icmp_offset + 2U;
  const std::uint16_t icheck = adjust(be16(p, ic), icmp_before, checksumPartial(region));
  p[ic] = static_cast<std::byte>(icheck >> 8);
  p[ic + 1] = static_cast<std::byte>(icheck);
}

}  // namespace synguard::engine
