#include "engine/protect/icmp.h"

#include <algorithm>

#include "engine/packet/checksum.h"
#include "engine/packet/ipv6_ext.h"

namespace synguard::engine {

namespace {

constexpr std::uint8_t kProtoIcmp = 1;
constexpr std::uint8_t kProtoTcp = 6;
constexpr std::uint8_t kProtoIcmpv6 = 58;
constexpr std::size_t kIcmpHeader = 8;   // type, code, checksum, 4 bytes (RFC 792, RFC 4443 §2.1)
constexpr std::size_t kMinTcpQuote = 8;  // ports and seq: all RFC 792 promises

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

/// The outer IP header (parseSegment() has checked its lengths) of an ICMP or ICMPv6 packet:
/// `icmp` is where the ICMP header starts and `end` where the datagram ends, bounded by what
/// the buffer holds. False for anything else, a fragment of ICMPv6 included.
bool findIcmpHeader(std::span<const std::byte> p, std::uint8_t version, IcmpQuote& out,
                    std::size_t& icmp, std::size_t& end) noexcept {
  if (version == 4) {
    if (p.size() < 20 || u8(p, 9) != kProtoIcmp) {
      return false;
    }
    icmp = std::size_t{u8(p, 0) & 0x0fU} * 4;
    end = std::min<std::size_t>(be16(p, 2), p.size());
    out.to = IpAddress::v4(be32(p, 16));
    return true;
  }
  if (version != 6 || p.size() < 40) {
    return false;
  }
  end = std::min<std::size_t>(40 + std::size_t{be16(p, 4)}, p.size());
  Ipv6Chain chain{.next = u8(p, 6), .off = 40};
  const auto no_fragments = [](std::size_t, std::uint16_t) noexcept { return false; };
  if (walkIpv6Extensions(p, end, kProtoIcmpv6, chain, no_fragments) != Ipv6Walk::kFound) {
    return false;
  }
  icmp = chain.off;
  out.to = v6At(p, 24);
  return true;
}

bool isIcmpError(std::uint8_t version, std::uint8_t type) noexcept {
  if (version == 4) {
    // RFC 792: destination unreachable (3), time exceeded (11), parameter problem (12).
    return type == 3 || type == 11 || type == 12;
  }
  // RFC 4443 §3: destination unreachable (1), packet too big (2), time exceeded (3),
  // parameter problem (4).
  return type >= 1 && type <= 4;
}

/// The quoted IPv4 header at `q`; `tcp` ends on the quoted TCP header.
IcmpParse parseQuotedIpv4(std::span<const std::byte> p, std::size_t q, std::size_t end,
                          IcmpQuote& out, std::size_t& tcp) noexcept {
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
  return IcmpParse::kTcpQuote;
}

/// The quoted IPv6 header at `q` and its extension headers; `tcp` ends on the quoted TCP
/// header. A Fragment header is followed at offset 0 only: the first fragment carries the
/// upper-layer header.
IcmpParse parseQuotedIpv6(std::span<const std::byte> p, std::size_t q, std::size_t end,
                          IcmpQuote& out, std::size_t& tcp) noexcept {
  if (q + 40 > end) {
    return IcmpParse::kTruncated;
  }
  Ipv6Chain chain{.next = u8(p, q + 6), .off = q + 40};
  const auto first_only = [](std::size_t, std::uint16_t fo) noexcept {
    return (fo & 0xfff8U) == 0;
  };
  switch (walkIpv6Extensions(p, end, kProtoTcp, chain, first_only)) {
    case Ipv6Walk::kFound:
      break;
    case Ipv6Walk::kTruncated:
      return IcmpParse::kTruncated;
    case Ipv6Walk::kTooMany:
      // Longer chains than the segment parser follows; the header past the last one is still
      // read, so a quote that ends inside it counts as truncated.
      return stepIpv6Extension(p, end, chain, first_only) == Ipv6Walk::kTruncated
                 ? IcmpParse::kTruncated
                 : IcmpParse::kOther;
    case Ipv6Walk::kOther:    // another protocol
    case Ipv6Walk::kStopped:  // a later fragment: no TCP header
    case Ipv6Walk::kAdvanced:
      return IcmpParse::kOther;
  }
  out.src = v6At(p, q + 8);
  out.dst = v6At(p, q + 24);
  tcp = chain.off;
  return IcmpParse::kTcpQuote;
}

/// The options translation touches (RFC 7323 timestamps, RFC 2018 SACK) in [begin, qend), the
/// quoted part of a TCP header ending at `hend`. A malformed option list is left alone; the
/// receiver's TCP ignores options here.
void findQuotedOptions(std::span<const std::byte> p, std::size_t begin, std::size_t qend,
                       std::size_t hend, IcmpQuote& out) noexcept {
  for (std::size_t i = begin; i < qend;) {
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
    if (len < 2 || i + len > hend) {
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

/// The quoted TCP header at `tcp`: RFC 792 promises its first 8 bytes (ports and seq).
IcmpParse parseQuotedTcp(std::span<const std::byte> p, std::size_t tcp, std::size_t end,
                         IcmpQuote& out) noexcept {
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
    findQuotedOptions(p, tcp + 20, tcp + quoted, tcp + hlen, out);
  }
  out.src_port = be16(p, tcp);
  out.dst_port = be16(p, tcp + 2);
  out.tcp_offset = static_cast<std::uint16_t>(tcp);
  out.tcp_bytes = static_cast<std::uint16_t>(quoted);
  return IcmpParse::kTcpQuote;
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
  const std::uint8_t version = u8(p, 0) >> 4;
  std::size_t icmp = 0;
  std::size_t end = 0;
  if (!findIcmpHeader(p, version, out, icmp, end)) {
    return IcmpParse::kOther;
  }
  if (icmp + 1 > end || !isIcmpError(version, u8(p, icmp))) {
    return IcmpParse::kOther;
  }
  if (icmp + kIcmpHeader > end) {
    return IcmpParse::kTruncated;
  }
  out.ip_version = version;
  out.type = u8(p, icmp);
  out.code = u8(p, icmp + 1);
  out.icmp_offset = static_cast<std::uint16_t>(icmp);

  // The quoted datagram: as much of it as the error carries (RFC 1812 §4.3.2.3: up to 576
  // bytes; RFC 4443 §2.4(c): up to the IPv6 minimum MTU).
  const std::size_t q = icmp + kIcmpHeader;
  if (q + 1 > end) {
    return IcmpParse::kTruncated;
  }
  if (u8(p, q) >> 4 != version) {
    return IcmpParse::kBadQuote;  // ICMP quotes its own IP version
  }
  std::size_t tcp = 0;
  const IcmpParse quote =
      version == 4 ? parseQuotedIpv4(p, q, end, out, tcp) : parseQuotedIpv6(p, q, end, out, tcp);
  if (quote != IcmpParse::kTcpQuote) {
    return quote;
  }
  return parseQuotedTcp(p, tcp, end, out);
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
