#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "engine/packet/ip_address.h"
#include "engine/protect/translate.h"

namespace synguard::engine {

/// What became of an ICMP error that quotes a TCP segment (RFC 792, RFC 4443 §3). Every value
/// has a counter in EngineStats::icmp.
enum class IcmpOutcome : std::uint8_t {
  kToServer,      ///< about a proxied connection: the quoted server segment moved back into the
                  ///< server's sequence space (path-MTU discovery through the proxy)
  kToClient,      ///< about a proxied connection: the quoted client segment's ACK, SACK blocks
                  ///< and TSecr moved back into the client's view
  kNotProxied,    ///< about a tracked connection that is not translated: passed untouched
  kHandshake,     ///< quotes a server segment of a proxied connection still in its server
                  ///< handshake: none has left the gateway, so it is forged or stale: dropped
  kNoConnection,  ///< about no connection we hold: passed, or dropped (kNoConnection) while the
                  ///< quoted service is in cookie mode
  kMisdirected,   ///< sent to another host than the quoted segment's source: passed untouched
  kTruncated,     ///< shorter than its ICMP header, the quoted IP header and 8 bytes of TCP
                  ///< (RFC 792, RFC 1122 §3.2.2): no TCP could use it: dropped (malformed)
  kBadQuote,      ///< the quoted IP header does not parse: dropped (malformed)
  kCount,
};
constexpr std::size_t kIcmpOutcomeCount = static_cast<std::size_t>(IcmpOutcome::kCount);
std::string_view toString(IcmpOutcome o) noexcept;

/// An ICMP error quoting a TCP segment. Offsets are from the start of the outer packet.
struct IcmpQuote {
  IpAddress to;   ///< the ICMP's destination: the quoted segment's sender, normally
  IpAddress src;  ///< the quoted segment's source
  IpAddress dst;  ///< ... and destination
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint16_t icmp_offset = 0;  ///< the ICMP header (its checksum at +2)
  std::uint16_t tcp_offset = 0;   ///< the quoted TCP header
  std::uint16_t tcp_bytes = 0;    ///< how much of it is quoted: 8 (ports, seq) up to its length
  std::uint16_t ts_offset = 0;    ///< the TSval, 0 when the quote ends before the option
  std::uint16_t sack_offset = 0;  ///< the first SACK block, 0 when none is quoted
  std::uint8_t sack_count = 0;
  std::uint8_t ip_version = 0;  ///< 4 (ICMP) or 6 (ICMPv6)
  std::uint8_t type = 0;
  std::uint8_t code = 0;
};

enum class IcmpParse : std::uint8_t {
  kTcpQuote,   ///< an ICMP error quoting (at least 8 bytes of) a TCP segment: `out` is filled
  kOther,      ///< not ICMP, not an error (echo, neighbour discovery, source quench), or an
               ///< error quoting another protocol or a later fragment
  kTruncated,  ///< see IcmpOutcome::kTruncated
  kBadQuote,   ///< see IcmpOutcome::kBadQuote
};

/// Parses an unfragmented IP packet (no link layer) that parseSegment() found not to be TCP.
/// Errors recognised: ICMPv4 destination unreachable, time exceeded, parameter problem (source
/// quench is obsolete, RFC 6633); ICMPv6 destination unreachable, packet too big, time
/// exceeded, parameter problem. The quoted IPv4 header may carry options and the quoted IPv6
/// header extension headers (a first fragment's Fragment header included). Never reads
/// outside `packet`; never allocates.
IcmpParse parseIcmpError(std::span<const std::byte> packet, IcmpQuote& out) noexcept;

/// Moves the quoted segment of a proxied connection into the ICMP receiver's sequence space
/// (the inverse of what translateToClient / translateToServer did to it on its way out):
/// `to_server` — the quote is a server segment as the client saw it: seq (+ seq_delta) and
/// TSval; otherwise a client segment as the server saw it: ACK, SACK blocks and TSecr. The
/// quoted TCP checksum (when quoted) and the ICMP checksum are updated incrementally (RFC 1624:
/// a wrong checksum stays wrong; the ICMPv6 pseudo-header is unchanged).
void translateQuote(std::span<std::byte> packet, const IcmpQuote& q, const Translation& t,
                    bool to_server) noexcept;

}  // namespace synguard::engine
