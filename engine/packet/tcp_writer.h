#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "engine/packet/ip_address.h"
#include "engine/packet/seq_num.h"

namespace synguard::engine {

/// A TCP segment the engine originates (cookie SYN-ACKs, the proxy's SYN and ACK to the server,
/// window updates, RSTs). Options are laid out as Linux lays them out (tcp_options_write):
/// MSS, SACK-permitted folded into the timestamp's NOPs, timestamps, NOP + window scale.
struct TcpOut {
  IpAddress src;
  IpAddress dst;
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  SeqNum seq;
  SeqNum ack;
  std::uint8_t flags = 0;  ///< TcpFlag bits
  std::uint16_t window = 0;
  std::uint16_t mss = 0;  ///< 0: no MSS option
  bool has_wscale = false;
  std::uint8_t wscale = 0;
  bool sack_permitted = false;
  bool has_timestamps = false;
  std::uint32_t ts_val = 0;
  std::uint32_t ts_ecr = 0;
  std::uint8_t ttl = 64;  ///< TTL or hop limit
  std::uint8_t tos = 0;   ///< TOS / traffic class (ECN bits included)
};

/// IPv6 header (40) + TCP header with the longest option set this writer produces (20 + 20).
constexpr std::size_t kMaxWrittenPacket = 80;
using WrittenPacket = std::array<std::byte, kMaxWrittenPacket>;

/// Writes `seg` as an IPv4 (DF set, ID 0, as Linux sends SYN-ACKs) or IPv6 packet with correct
/// IP and TCP checksums; returns its length. No payload.
std::size_t writeTcpPacket(const TcpOut& seg, WrittenPacket& out) noexcept;
/// The same into `out`, which has room for kMaxWrittenPacket bytes (a sink's own buffer).
std::size_t writeTcpPacket(const TcpOut& seg, std::byte* out) noexcept;

}  // namespace synguard::engine
