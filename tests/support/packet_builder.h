#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/packet/ip_address.h"

namespace synguard::testing {

/// Builds IPv4/IPv6 TCP packets for tests, with correct checksums unless told otherwise, and
/// knobs to break every header field the parser checks. Options are laid out as Linux does
/// (MSS, SACK-permitted, timestamps, NOP, window scale), padded to 4 bytes.
class PacketBuilder {
 public:
  static PacketBuilder ipv4(std::string_view src, std::string_view dst);
  static PacketBuilder ipv6(std::string_view src, std::string_view dst);

  PacketBuilder& tcp(std::uint16_t sport, std::uint16_t dport);
  PacketBuilder& syn();
  PacketBuilder& fin();
  PacketBuilder& rst();
  PacketBuilder& psh();
  PacketBuilder& ack(std::uint32_t ack_number);  ///< sets the ACK flag and the number
  PacketBuilder& ackFlagOnly();
  PacketBuilder& flags(std::uint8_t raw);  ///< replaces all flags
  PacketBuilder& seq(std::uint32_t s);
  PacketBuilder& window(std::uint16_t w);
  PacketBuilder& mss(std::uint16_t m);
  PacketBuilder& wscale(std::uint8_t s);
  PacketBuilder& sackPermitted();
  PacketBuilder& timestamps(std::uint32_t val, std::uint32_t ecr);
  PacketBuilder& sack(std::vector<std::pair<std::uint32_t, std::uint32_t>> blocks);
  PacketBuilder& payload(std::size_t n_bytes);
  PacketBuilder& payload(std::string_view bytes);
  PacketBuilder& ttl(std::uint8_t t);
  PacketBuilder& ipId(std::uint16_t id);
  PacketBuilder& dontFragment(bool df);
  /// Exact option bytes (replaces the structured options), padded with zeros (EOL) to 4.
  PacketBuilder& rawOptions(std::vector<std::uint8_t> bytes);
  PacketBuilder& dataOffsetOverride(std::uint8_t words);
  PacketBuilder& ipTotalLengthOverride(std::uint16_t len);
  PacketBuilder& ihlOverride(std::uint8_t words);
  /// Appends an IPv6 extension header (type, body without the next-header byte).
  PacketBuilder& ipv6ExtensionHeader(std::uint8_t type, std::vector<std::uint8_t> body);
  PacketBuilder& fragment(std::uint16_t offset_units, bool more_fragments);
  PacketBuilder& badChecksum();

  std::vector<std::byte> build() const;

 private:
  PacketBuilder() = default;
  std::vector<std::uint8_t> options() const;

  bool v6_ = false;
  engine::IpAddress src_;
  engine::IpAddress dst_;
  std::uint16_t sport_ = 0;
  std::uint16_t dport_ = 0;
  std::uint32_t seq_ = 0;
  std::uint32_t ack_ = 0;
  std::uint8_t flags_ = 0;
  std::uint16_t window_ = 64240;
  std::uint8_t ttl_ = 64;
  std::uint16_t ip_id_ = 0;
  bool df_ = true;
  std::optional<std::uint16_t> mss_;
  std::optional<std::uint8_t> wscale_;
  bool sack_perm_ = false;
  std::optional<std::pair<std::uint32_t, std::uint32_t>> ts_;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> sack_;
  std::vector<std::uint8_t> payload_;
  std::optional<std::vector<std::uint8_t>> raw_options_;
  std::optional<std::uint8_t> doff_override_;
  std::optional<std::uint16_t> total_len_override_;
  std::optional<std::uint8_t> ihl_override_;
  std::vector<std::pair<std::uint8_t, std::vector<std::uint8_t>>> ext_headers_;
  std::uint16_t frag_offset_ = 0;
  bool more_fragments_ = false;
  bool bad_checksum_ = false;
};

/// An ICMP error (IPv4: ICMP, IPv6: ICMPv6, as `from` is) from `from` to `to` quoting the first
/// `quote_len` bytes of `quoted` (all of it at most), with valid checksums; `mtu` goes in the
/// second word's low half, where fragmentation needed and packet too big carry it.
std::vector<std::byte> icmpError(std::string_view from, std::string_view to, std::uint8_t type,
                                 std::uint8_t code, const std::vector<std::byte>& quoted,
                                 std::size_t quote_len, std::uint16_t mtu = 1280);
/// Whether an ICMP error built like that (no extension headers) has a valid ICMP checksum
/// (ICMPv6 with its pseudo-header, RFC 4443 §2.3).
bool icmpChecksumOk(const std::vector<std::byte>& packet);
/// One IP fragment of a whole packet `packet` (as build() makes it): bytes [offset, offset +
/// len) of its IP payload (offset a multiple of 8; len clipped to what there is), with the
/// more-fragments flag `more`. IPv4: the header is copied (DF cleared, checksum redone); IPv6: a
/// Fragment header is inserted after the 40-byte base header (everything after it, extension
/// headers included, is the fragmentable part).
std::vector<std::byte> fragmentOf(std::span<const std::byte> packet, std::size_t offset,
                                  std::size_t len, bool more, std::uint32_t id = 0x5eed);
/// An IPv6 atomic fragment (RFC 6946) of a whole IPv6 packet: a Fragment header with offset 0
/// and M = 0 after the base header.
std::vector<std::byte> atomicFragmentOf(std::span<const std::byte> packet,
                                        std::uint32_t id = 0x5eed);

}  // namespace synguard::testing
