#include "engine/packet/segment.h"

#include <algorithm>

#include "engine/packet/checksum.h"
#include "engine/packet/ipv6_ext.h"

namespace synguard::engine {

namespace {

constexpr std::uint8_t kProtoTcp = 6;
/// A later fragment below this offset (in 8-byte units: 64 bytes) may overlap a TCP header
/// (20 to 60 bytes): RFC 1858 §3.2 drops offset 1, RFC 3128 §4 explains why any overlap with
/// the header must go; 8 covers the longest header.
constexpr std::size_t kMinLaterFragmentUnits = 8;

inline std::uint8_t u8(std::span<const std::byte> p, std::size_t off) noexcept {
  return std::to_integer<std::uint8_t>(p[off]);
}
inline std::uint16_t be16(std::span<const std::byte> p, std::size_t off) noexcept {
  return static_cast<std::uint16_t>((u8(p, off) << 8) | u8(p, off + 1));
}
inline std::uint32_t be32(std::span<const std::byte> p, std::size_t off) noexcept {
  return (std::uint32_t{be16(p, off)} << 16) | be16(p, off + 2);
}
inline IpAddress v6At(std::span<const std::byte> p, std::size_t off) noexcept {
  std::uint8_t a[16];
  for (std::size_t k = 0; k < 16; ++k) {
    a[k] = u8(p, off + k);
  }
  return IpAddress::v6(a);
}

/// RFC 9293 §3.2 option parsing over [begin, end) of `p`. Every read is bounds-checked
/// against `end`, which the caller has checked against the buffer.
ParseError parseOptions(std::span<const std::byte> p, std::size_t begin, std::size_t end,
                        TcpOptions& o) noexcept {
  std::size_t i = begin;
  while (i < end) {
    const std::uint8_t kind = u8(p, i);
    if (kind == 0) {  // End of Option List
      break;
    }
    if (kind == 1) {  // No-Operation
      ++i;
      continue;
    }
    if (i + 1 >= end) {
      return ParseError::kOptionOverrun;  // no room for the length byte
    }
    const std::uint8_t len = u8(p, i + 1);
    if (len < 2) {
      return ParseError::kZeroLengthOption;
    }
    if (i + len > end) {
      return ParseError::kOptionOverrun;
    }
    switch (kind) {
      case 2:  // MSS, RFC 9293 §3.2
        if (len != 4) {
          return ParseError::kBadOptionLength;
        }
        o.has_mss = true;
        o.mss = be16(p, i + 2);
        break;
      case 3:  // Window scale, RFC 7323 §2.2
        if (len != 3) {
          return ParseError::kBadOptionLength;
        }
        o.has_wscale = true;
        o.wscale = u8(p, i + 2);
        break;
      case 4:  // SACK-permitted, RFC 2018 §2
        if (len != 2) {
          return ParseError::kBadOptionLength;
        }
        o.sack_permitted = true;
        break;
      case 5: {  // SACK, RFC 2018 §3: 2 + 8n bytes, n = 1..4
        if (len < 10 || (len - 2) % 8 != 0 || (len - 2) / 8 > 4) {
          return ParseError::kBadOptionLength;
        }
        const auto n = static_cast<std::uint8_t>((len - 2) / 8);
        o.sack_count = n;
        o.sack_offset = static_cast<std::uint16_t>(i + 2);
        for (std::uint8_t b = 0; b < n; ++b) {
          o.sack[b] = SackBlock{SeqNum{be32(p, i + 2 + 8U * b)}, SeqNum{be32(p, i + 6 + 8U * b)}};
        }
        break;
      }
      case 8:  // Timestamps, RFC 7323 §3.2
        if (len != 10) {
          return ParseError::kBadOptionLength;
        }
        o.has_timestamps = true;
        o.ts_offset = static_cast<std::uint16_t>(i + 2);
        o.ts_val = be32(p, i + 2);
        o.ts_ecr = be32(p, i + 6);
        break;
      default:
        break;  // unknown option with a sane length: skipped
    }
    i += len;
  }
  return ParseError::kNone;
}

/// Where the IP header left the TCP header.
struct IpLayer {
  std::size_t l4 = 0;   ///< offset of the TCP header
  std::size_t end = 0;  ///< end of the datagram per its header (may exceed the buffer)
};

/// An IPv4 fragment (MF or an offset set) carrying `proto`: a first TCP fragment goes on to
/// the TCP header, which must be whole in it; anything else stops here.
ParseError judgeIpv4Fragment(std::uint16_t frag, std::uint8_t proto, Segment& out) noexcept {
  out.frag_proto = proto;
  const std::size_t units = frag & 0x1fffU;
  if (proto != kProtoTcp) {
    return ParseError::kFragment;
  }
  if (units != 0) {
    return units < kMinLaterFragmentUnits ? ParseError::kOverlappingFragment
                                          : ParseError::kFragment;
  }
  out.first_fragment = true;
  return ParseError::kNone;
}

/// RFC 791 §3.1 header, options skipped.
ParseError parseIpv4(std::span<const std::byte> p, std::size_t wire, const ParseOptions& opts,
                     Segment& out, IpLayer& ip) noexcept {
  if (p.size() < 20) {
    return ParseError::kTruncatedIpv4Header;
  }
  const std::size_t ihl = std::size_t{u8(p, 0) & 0x0fU} * 4;
  if (ihl < 20) {
    return ParseError::kBadIhl;
  }
  if (p.size() < ihl) {
    return ParseError::kTruncatedIpv4Header;
  }
  out.ip_version = 4;
  out.ip_ecn = u8(p, 1) & 0x03;
  out.ip_ttl = u8(p, 8);
  out.src = IpAddress::v4(be32(p, 12));
  out.dst = IpAddress::v4(be32(p, 16));
  std::size_t total = be16(p, 2);
  if (total == 0 && opts.allow_zero_ip_length) {
    total = wire;  // TSO capture: the header was never filled in
  }
  if (total < ihl || total > wire) {
    return ParseError::kTotalLengthMismatch;
  }
  const std::uint16_t frag = be16(p, 6);
  const std::uint8_t proto = u8(p, 9);
  if ((frag & 0x3fffU) != 0) [[unlikely]] {  // MF or a fragment offset
    if (const ParseError e = judgeIpv4Fragment(frag, proto, out); e != ParseError::kNone) {
      return e;
    }
  } else if (proto != kProtoTcp) {
    return ParseError::kNotTcp;
  }
  ip = IpLayer{ihl, total};
  return ParseError::kNone;
}

/// An IPv6 Fragment header at `off` whose fragment offset and flags are `fo`: an atomic
/// fragment (RFC 6946) is the whole packet and a first fragment must carry the rest of the
/// header chain (RFC 7112); anything else ends the walk with `e` set.
bool judgeIpv6Fragment(std::span<const std::byte> p, std::size_t off, std::uint16_t fo,
                       Segment& out, ParseError& e) noexcept {
  const std::size_t units = fo >> 3;
  const bool more = (fo & 1U) != 0;
  if (units == 0 && !more) {
    return true;
  }
  if (out.first_fragment) {
    e = ParseError::kTinyFragment;  // a second Fragment header: no header chain here
    return false;
  }
  out.frag_proto = u8(p, off);
  if (units != 0) {
    e = fragmentMayBeTcp(out.frag_proto) && units < kMinLaterFragmentUnits
            ? ParseError::kOverlappingFragment
            : ParseError::kFragment;
    return false;
  }
  out.first_fragment = true;
  return true;
}

/// RFC 8200 §4: the extension header chain from `chain` to the TCP header.
ParseError walkToTcp(std::span<const std::byte> p, std::size_t ip_end, Ipv6Chain& chain,
                     Segment& out) noexcept {
  ParseError stop = ParseError::kNone;
  const auto on_fragment = [&](std::size_t off, std::uint16_t fo) noexcept {
    return judgeIpv6Fragment(p, off, fo, out, stop);
  };
  switch (walkIpv6Extensions(p, std::min(p.size(), ip_end), kProtoTcp, chain, on_fragment)) {
    case Ipv6Walk::kFound:
      return ParseError::kNone;
    case Ipv6Walk::kOther:
      if (out.first_fragment) {
        out.frag_proto = chain.next;
        return ParseError::kFragment;  // the first fragment of something else than TCP
      }
      return ParseError::kNotTcp;
    case Ipv6Walk::kTruncated:
      // Past the datagram in a first fragment, the chain was split (RFC 7112); past only the
      // buffer, the capture cut it.
      return out.first_fragment && chain.need > ip_end ? ParseError::kTinyFragment
                                                       : ParseError::kTruncatedExtensionHeader;
    case Ipv6Walk::kTooMany:
      return ParseError::kTooManyExtensionHeaders;
    case Ipv6Walk::kStopped:
      return stop;
    case Ipv6Walk::kAdvanced:
      break;  // the walk never ends on it
  }
  return ParseError::kNotTcp;  // unreachable: the switch covers every value
}

/// RFC 8200 §3 header, then its extension headers.
ParseError parseIpv6(std::span<const std::byte> p, std::size_t wire, const ParseOptions& opts,
                     Segment& out, IpLayer& ip) noexcept {
  if (p.size() < 40) {
    return ParseError::kTruncatedIpv6Header;
  }
  out.ip_version = 6;
  out.ip_ecn = static_cast<std::uint8_t>((be16(p, 0) >> 4) & 0x03U);
  out.ip_ttl = u8(p, 7);
  out.src = v6At(p, 8);
  out.dst = v6At(p, 24);
  std::size_t payload = be16(p, 4);
  if (payload == 0 && opts.allow_zero_ip_length && wire > 40) {
    payload = wire - 40;
  }
  if (payload == 0 || 40 + payload > wire) {
    return ParseError::kPayloadLengthMismatch;  // jumbograms (RFC 2675) are not supported
  }
  ip.end = 40 + payload;
  Ipv6Chain chain{.next = u8(p, 6), .off = 40};
  if (const ParseError e = walkToTcp(p, ip.end, chain, out); e != ParseError::kNone) {
    return e;
  }
  ip.l4 = chain.off;
  return ParseError::kNone;
}

/// RFC 9293 §3.1 header and its options. A first fragment must hold all of it (RFC 1858
/// §3.1).
ParseError parseTcpHeader(std::span<const std::byte> p, IpLayer ip, Segment& out) noexcept {
  const std::size_t l4 = ip.l4;
  const std::size_t ip_end = ip.end;
  if (l4 + 20 > p.size() || l4 + 20 > ip_end) {
    return out.first_fragment && l4 + 20 > ip_end ? ParseError::kTinyFragment
                                                  : ParseError::kTruncatedTcpHeader;
  }
  const std::size_t doff = std::size_t{u8(p, l4 + 12)} >> 4;
  if (doff < 5) {
    return ParseError::kBadDataOffset;
  }
  const std::size_t hlen = doff * 4;
  if (l4 + hlen > ip_end || l4 + hlen > p.size()) {
    return out.first_fragment && l4 + hlen > ip_end ? ParseError::kTinyFragment
                                                    : ParseError::kDataOffsetBeyondPacket;
  }
  out.src_port = be16(p, l4);
  out.dst_port = be16(p, l4 + 2);
  out.seq = SeqNum{be32(p, l4 + 4)};
  out.ack = SeqNum{be32(p, l4 + 8)};
  out.flags = u8(p, l4 + 13);
  out.window = be16(p, l4 + 14);
  out.urgent = be16(p, l4 + 18);
  out.tcp_offset = static_cast<std::uint16_t>(l4);
  out.tcp_header_len = static_cast<std::uint16_t>(hlen);
  out.ip_length = static_cast<std::uint32_t>(ip_end);
  out.payload_len = static_cast<std::uint32_t>(ip_end - l4 - hlen);
  return parseOptions(p, l4 + 20, l4 + hlen, out.options);
}

}  // namespace

std::string_view toString(ParseError e) noexcept {
  switch (e) {
    case ParseError::kNone:
      return "none";
    case ParseError::kEmpty:
      return "empty";
    case ParseError::kBadIpVersion:
      return "bad_ip_version";
    case ParseError::kTruncatedIpv4Header:
      return "truncated_ipv4_header";
    case ParseError::kBadIhl:
      return "bad_ihl";
    case ParseError::kTotalLengthMismatch:
      return "total_length_mismatch";
    case ParseError::kTruncatedIpv6Header:
      return "truncated_ipv6_header";
    case ParseError::kPayloadLengthMismatch:
      return "payload_length_mismatch";
    case ParseError::kTruncatedExtensionHeader:
      return "truncated_extension_header";
    case ParseError::kTooManyExtensionHeaders:
      return "too_many_extension_headers";
    case ParseError::kFragment:
      return "fragment";
    case ParseError::kNotTcp:
      return "not_tcp";
    case ParseError::kTruncatedTcpHeader:
      return "truncated_tcp_header";
    case ParseError::kBadDataOffset:
      return "bad_data_offset";
    case ParseError::kDataOffsetBeyondPacket:
      return "data_offset_beyond_packet";
    case ParseError::kOptionOverrun:
      return "option_overrun";
    case ParseError::kZeroLengthOption:
      return "zero_length_option";
    case ParseError::kBadOptionLength:
      return "bad_option_length";
    case ParseError::kBadChecksum:
      return "bad_checksum";
    case ParseError::kTinyFragment:
      return "tiny_fragment";
    case ParseError::kOverlappingFragment:
      return "overlapping_fragment";
    case ParseError::kCount:
      break;
  }
  return "unknown";
}

ParseError parseSegment(std::span<const std::byte> p, Segment& out,
                        const ParseOptions& opts) noexcept {
  out = Segment{};
  if (p.empty()) {
    return ParseError::kEmpty;
  }
  const std::size_t wire = opts.wire_length != 0 ? opts.wire_length : p.size();
  const std::uint8_t version = u8(p, 0) >> 4;
  IpLayer ip;
  ParseError e = ParseError::kBadIpVersion;
  if (version == 4) {
    e = parseIpv4(p, wire, opts, out, ip);
  } else if (version == 6) {
    e = parseIpv6(p, wire, opts, out, ip);
  }
  if (e != ParseError::kNone) {
    return e;
  }
  if (e = parseTcpHeader(p, ip, out); e != ParseError::kNone) {
    return e;
  }
  // A first fragment's checksum covers the whole datagram: not verifiable here.
  if (opts.verify_checksum && ip.end <= p.size() && !out.first_fragment) {
    if (tcpChecksum(p.first(ip.end), ip.l4, ip.end - ip.l4) != 0) {
      return ParseError::kBadChecksum;
    }
  }
  return ParseError::kNone;
}

}  // namespace synguard::engine
