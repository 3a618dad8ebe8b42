#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "engine/packet/ip_address.h"
#include "engine/packet/seq_num.h"

namespace synguard::engine {

/// TCP header flag bits (RFC 9293 §3.1, RFC 3168 for ECE/CWR).
enum TcpFlag : std::uint8_t {
  kFin = 0x01,
  kSyn = 0x02,
  kRst = 0x04,
  kPsh = 0x08,
  kAck = 0x10,
  kUrg = 0x20,
  kEce = 0x40,
  kCwr = 0x80,
};

/// Why a packet could not be parsed. Every value has a counter in EngineStats.
enum class ParseError : std::uint8_t {
  kNone = 0,
  kEmpty,                     ///< zero bytes
  kBadIpVersion,              ///< version nibble neither 4 nor 6
  kTruncatedIpv4Header,       ///< fewer than 20 bytes, or fewer than IHL*4
  kBadIhl,                    ///< IHL < 5
  kTotalLengthMismatch,       ///< IPv4 total length < IHL*4 or > bytes on the wire
  kTruncatedIpv6Header,       ///< fewer than 40 bytes
  kPayloadLengthMismatch,     ///< IPv6 payload length > bytes on the wire (or jumbogram)
  kTruncatedExtensionHeader,  ///< an IPv6 extension header runs past the packet
  kTooManyExtensionHeaders,   ///< more than kMaxIpv6ExtensionHeaders in a chain
  kFragment,                  ///< a later fragment (offset >= 64 bytes), or a non-TCP fragment:
                              ///< counted, not tracked (Segment::frag_proto says what it carries)
  kNotTcp,                    ///< upper-layer protocol is not TCP: counted, not tracked
  kTruncatedTcpHeader,        ///< fewer than 20 bytes of TCP header
  kBadDataOffset,             ///< data offset < 5
  kDataOffsetBeyondPacket,    ///< data offset * 4 beyond the IP payload
  kOptionOverrun,             ///< an option's length runs past the TCP header
  kZeroLengthOption,          ///< an option length of 0 or 1 (would loop or is impossible)
  kBadOptionLength,           ///< a known option with the wrong fixed length (e.g. MSS != 4)
  kBadChecksum,               ///< TCP checksum wrong (only when verification is asked for)
  /// A first TCP fragment that does not hold the whole TCP header, options included (RFC 1858
  /// §3.1 "tiny fragment"), or, for IPv6, the whole header chain (RFC 7112; a second Fragment
  /// header included): its flags and ports cannot be judged.
  kTinyFragment,
  /// A later TCP fragment at an offset below 64 bytes (8 units): it overlaps where a TCP
  /// header may be and can rewrite it on reassembly (RFC 1858 §3.2, RFC 3128).
  kOverlappingFragment,
  kCount,
};

constexpr std::size_t kParseErrorCount = static_cast<std::size_t>(ParseError::kCount);
std::string_view toString(ParseError e) noexcept;

struct SackBlock {
  SeqNum left;
  SeqNum right;
};

/// TCP options we understand (RFC 9293 MSS, RFC 7323 window scale and timestamps,
/// RFC 2018 SACK). Offsets are from the start of the IP packet so later rewriting can patch them.
struct TcpOptions {
  std::uint16_t mss = 0;
  std::uint8_t wscale = 0;  ///< as sent; RFC 7323 §2.3 caps the effective shift at 14
  bool has_mss = false;
  bool has_wscale = false;
  bool sack_permitted = false;
  bool has_timestamps = false;
  std::uint8_t sack_count = 0;
  std::uint32_t ts_val = 0;
  std::uint32_t ts_ecr = 0;
  std::uint16_t ts_offset = 0;    ///< offset of the TSval field, 0 when absent
  std::uint16_t sack_offset = 0;  ///< offset of the first SACK block, 0 when absent
  std::array<SackBlock, 4> sack{};
};

/// A parsed TCP/IP segment. Views into the packet it came from; valid while the packet lives.
struct Segment {
  IpAddress src;
  IpAddress dst;
  std::uint8_t ip_version = 0;  ///< 4 or 6
  std::uint8_t ip_ttl = 0;      ///< TTL or hop limit
  std::uint8_t ip_ecn = 0;      ///< the two ECN bits of TOS / traffic class
  std::uint8_t flags = 0;       ///< TcpFlag bits
  /// Set for fragments only (ParseError::kFragment, kTinyFragment, kOverlappingFragment, and
  /// first fragments; src/dst valid): the fragmented part's first header (IPv4 protocol field,
  /// or the next header of the IPv6 Fragment header, which may be another extension header).
  std::uint8_t frag_proto = 0;
  /// A first fragment (offset 0, more fragments follow) holding the whole TCP header: parsed as
  /// the segment it starts. payload_len counts the payload in this fragment only; the TCP
  /// checksum covers the whole datagram and cannot be verified here.
  bool first_fragment = false;
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  SeqNum seq;
  SeqNum ack;
  std::uint16_t window = 0;  ///< raw, unscaled
  std::uint16_t urgent = 0;
  std::uint16_t tcp_offset = 0;  ///< where the TCP header starts in the packet
  std::uint16_t tcp_header_len = 0;
  std::uint32_t ip_length = 0;    ///< IP datagram length as the header states it (or inferred)
  std::uint32_t payload_len = 0;  ///< TCP payload bytes per the IP header (may exceed the capture)
  TcpOptions options;

  bool has(std::uint8_t flag) const noexcept { return (flags & flag) != 0; }
  /// Sequence space this segment occupies: payload plus one each for SYN and FIN (RFC 9293 §3.4).
  std::uint32_t seqLen() const noexcept {
    return payload_len + (has(kSyn) ? 1U : 0U) + (has(kFin) ? 1U : 0U);
  }
};

struct ParseOptions {
  /// Length of the datagram on the wire when the buffer was truncated by a capture snaplen;
  /// 0 means the buffer is the whole packet. Headers must still be complete in the buffer.
  std::size_t wire_length = 0;
  /// Accept an IPv4 total length of 0 as "whole buffer": captures taken on a host with TCP
  /// segmentation offload record that. Never on a live gateway.
  bool allow_zero_ip_length = false;
  /// Verify the TCP checksum (needs the whole segment in the buffer; skipped when truncated).
  bool verify_checksum = false;
};

/// Parses an IP packet (no link layer) into `out`. Never reads outside `packet`; never allocates.
/// On error `out` is partially filled (addresses are set whenever the IP header was readable).
ParseError parseSegment(std::span<const std::byte> packet, Segment& out,
                        const ParseOptions& opts = {}) noexcept;

/// Whether a fragment (Segment::frag_proto) may be part of a TCP segment: TCP itself, or, in
/// IPv6, an extension header of the fragmentable part that TCP may follow.
constexpr bool fragmentMayBeTcp(std::uint8_t frag_proto) noexcept {
  switch (frag_proto) {
    case 6:    // TCP
    case 0:    // Hop-by-Hop Options (invalid there, but the receiver decides)
    case 43:   // Routing
    case 44:   // Fragment
    case 51:   // Authentication Header
    case 60:   // Destination Options
    case 135:  // Mobility
    case 139:  // HIP
    case 140:  // Shim6
      return true;
    default:
      return false;
  }
}

}  // namespace synguard::engine
