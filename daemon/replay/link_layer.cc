#include "daemon/replay/link_layer.h"

#include <pcap/pcap.h>

#include <array>
#include <cstdint>

namespace synguard::replay {

namespace {

// IEEE 802 EtherType registry.
constexpr std::uint16_t kEtherIpv4 = 0x0800;
constexpr std::uint16_t kEtherIpv6 = 0x86dd;
constexpr std::uint16_t kEtherVlan = 0x8100;     // IEEE 802.1Q C-tag
constexpr std::uint16_t kEtherQinQ = 0x88a8;     // IEEE 802.1ad S-tag
constexpr std::uint16_t kEtherQinQOld = 0x9100;  // pre-standard QinQ S-tag

// Header lengths: Ethernet II dst(6) src(6) type(2); a VLAN tag TPID(2) TCI(2); see
// https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL.html and LINKTYPE_LINUX_SLL2.html.
constexpr std::size_t kEtherHeader = 14;
constexpr std::size_t kVlanTag = 4;
constexpr std::size_t kSllHeader = 16;
constexpr std::size_t kSllProtocol = 14;
constexpr std::size_t kSll2Header = 20;
constexpr std::size_t kSll2Protocol = 0;
constexpr std::size_t kNullHeader = 4;

// BSD address families (LINKTYPE_NULL/LOOP): AF_INET is 2 everywhere; AF_INET6 is 24 on
// NetBSD/OpenBSD/BSD/OS, 28 on FreeBSD/DragonFly, 30 on macOS, 23 on Windows (Npcap loopback)
// and 10 on Linux.
constexpr std::uint32_t kAfInet = 2;
constexpr std::array<std::uint32_t, 5> kAfInet6 = {10, 23, 24, 28, 30};

std::uint16_t be16(std::span<const std::byte> p, std::size_t off) noexcept {
  return static_cast<std::uint16_t>((std::to_integer<unsigned>(p[off]) << 8) |
                                    std::to_integer<unsigned>(p[off + 1]));
}

unsigned versionNibble(std::span<const std::byte> p, std::size_t off) noexcept {
  return std::to_integer<unsigned>(p[off]) >> 4;
}

constexpr LinkDecode kTruncatedLink{LinkResult::kTruncated, {}, 0};
constexpr LinkDecode kNotIpLink{LinkResult::kNotIp, {}, 0};

// The IP packet starts at `off` (<= frame.size(), checked by the caller).
LinkDecode ipAt(std::span<const std::byte> frame, std::size_t off, std::size_t wire_len) noexcept {
  LinkDecode d;
  d.result = LinkResult::kIp;
  d.ip = frame.subspan(off);
  // The wire length can never be below what was captured; a record that says so is damaged
  // and we trust the bytes we hold.
  d.ip_wire_length = wire_len > off ? wire_len - off : 0;
  if (d.ip_wire_length < d.ip.size()) {
    d.ip_wire_length = d.ip.size();
  }
  return d;
}

LinkDecode byEthertype(std::uint16_t type, std::span<const std::byte> frame, std::size_t off,
                       std::size_t wire_len) noexcept {
  if (type == kEtherIpv4 || type == kEtherIpv6) {
    return ipAt(frame, off, wire_len);
  }
  return kNotIpLink;
}

// Raw IP: the first nibble says which IP (RFC 791 §3.1, RFC 8200 §3).
LinkDecode byVersionNibble(std::span<const std::byte> frame, std::size_t off,
                           std::size_t wire_len) noexcept {
  if (off >= frame.size()) {
    return kTruncatedLink;
  }
  const unsigned v = versionNibble(frame, off);
  if (v == 4 || v == 6) {
    return ipAt(frame, off, wire_len);
  }
  return kNotIpLink;
}

LinkDecode ethernet(std::span<const std::byte> f, std::size_t wire_len) noexcept {
  // dst(6) src(6) type(2), where each VLAN tag inserts TPID(2) TCI(2) before the type.
  if (f.size() < kEtherHeader) {
    return kTruncatedLink;
  }
  std::size_t type_at = 12;
  std::uint16_t type = be16(f, type_at);
  for (int tags = 0; type == kEtherVlan || type == kEtherQinQ || type == kEtherQinQOld; ++tags) {
    if (tags == kMaxVlanTags) {
      return kNotIpLink;
    }
    type_at += kVlanTag;
    if (f.size() < type_at + 2) {
      return kTruncatedLink;
    }
    type = be16(f, type_at);
  }
  return byEthertype(type, f, type_at + 2, wire_len);
}

LinkDecode bsdLoopback(std::span<const std::byte> f, std::size_t wire_len) noexcept {
  // A 4-byte address family: in the capturing host's byte order for DLT_NULL, in network order
  // for DLT_LOOP. Both orders are tried for both: no family value is ambiguous between them.
  if (f.size() < kNullHeader) {
    return kTruncatedLink;
  }
  const auto b = [&](std::size_t i) { return std::to_integer<std::uint32_t>(f[i]); };
  const std::uint32_t le = b(0) | (b(1) << 8) | (b(2) << 16) | (b(3) << 24);
  const std::uint32_t be = (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
  unsigned want = 0;
  for (const std::uint32_t af : {le, be}) {
    if (af == kAfInet) {
      want = 4;
    }
    for (const std::uint32_t af6 : kAfInet6) {
      if (af == af6) {
        want = 6;
      }
    }
  }
  if (want == 0) {
    return kNotIpLink;
  }
  if (f.size() == kNullHeader) {
    return kTruncatedLink;
  }
  if (versionNibble(f, kNullHeader) != want) {
    return kNotIpLink;
  }
  return ipAt(f, kNullHeader, wire_len);
}

}  // namespace

bool linkTypeSupported(int dlt) noexcept {
  switch (dlt) {
    case DLT_EN10MB:
    case DLT_LINUX_SLL:
    case DLT_LINUX_SLL2:
    case DLT_RAW:
    case DLT_IPV4:
    case DLT_IPV6:
    case DLT_NULL:
    case DLT_LOOP:
      return true;
    default:
      return false;
  }
}

std::string linkTypeName(int dlt) {
  const char* n = pcap_datalink_val_to_name(dlt);
  return n != nullptr ? std::string(n) : "DLT_" + std::to_string(dlt);
}

LinkDecode decodeLink(int dlt, std::span<const std::byte> f, std::size_t wire_len) noexcept {
  switch (dlt) {
    case DLT_EN10MB:
      return ethernet(f, wire_len);
    case DLT_LINUX_SLL:
      // Cooked v1: packet type(2) ARPHRD(2) addr len(2) addr(8) protocol(2). The protocol is an
      // EtherType for every ARPHRD that can carry IP (tun devices included).
      if (f.size() < kSllHeader) {
        return kTruncatedLink;
      }
      return byEthertype(be16(f, kSllProtocol), f, kSllHeader, wire_len);
    case DLT_LINUX_SLL2:
      // Cooked v2: protocol(2) reserved(2) ifindex(4) ARPHRD(2) type(1) addr len(1) addr(8).
      if (f.size() < kSll2Header) {
        return kTruncatedLink;
      }
      return byEthertype(be16(f, kSll2Protocol), f, kSll2Header, wire_len);
    case DLT_RAW:
    case DLT_IPV4:
    case DLT_IPV6:
      return byVersionNibble(f, 0, wire_len);
    case DLT_NULL:
    case DLT_LOOP:
      return bsdLoopback(f, wire_len);
    default:
      return kNotIpLink;
  }
}

}  // namespace synguard::replay
