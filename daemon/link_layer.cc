#include "daemon/link_layer.h"

#include <pcap/pcap.h>

namespace synguard::daemon {

namespace {

constexpr std::uint16_t kEtherIpv4 = 0x0800;
constexpr std::uint16_t kEtherIpv6 = 0x86dd;
constexpr std::uint16_t kEtherVlan = 0x8100;    // IEEE 802.1Q
constexpr std::uint16_t kEtherQinQ = 0x88a8;    // IEEE 802.1ad
constexpr std::uint16_t kEtherQinQOld = 0x9100;  // pre-standard QinQ
constexpr int kMaxVlanTags = 4;

std::uint16_t be16(std::span<const std::byte> p, std::size_t off) {
  return static_cast<std::uint16_t>((std::to_integer<unsigned>(p[off]) << 8) |
                                    std::to_integer<unsigned>(p[off + 1]));
}

LinkDecode ipAt(std::span<const std::byte> frame, std::size_t off, std::size_t wire_len) {
  LinkDecode d;
  if (off > frame.size()) {
    return d;
  }
  d.result = LinkResult::kIp;
  d.ip = frame.subspan(off);
  d.ip_wire_length = wire_len > off ? wire_len - off : d.ip.size();
  if (d.ip_wire_length < d.ip.size()) {
    d.ip_wire_length = d.ip.size();
  }
  return d;
}

LinkDecode byEthertype(std::uint16_t type, std::span<const std::byte> frame, std::size_t off,
                       std::size_t wire_len) {
  if (type == kEtherIpv4 || type == kEtherIpv6) {
    return ipAt(frame, off, wire_len);
  }
  return LinkDecode{LinkResult::kNotIp, {}, 0};
}

LinkDecode byVersionNibble(std::span<const std::byte> frame, std::size_t off,
                           std::size_t wire_len) {
  if (off >= frame.size()) {
    return LinkDecode{};
  }
  const unsigned v = std::to_integer<unsigned>(frame[off]) >> 4;
  if (v == 4 || v == 6) {
    return ipAt(frame, off, wire_len);
  }
  return LinkDecode{LinkResult::kNotIp, {}, 0};
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
  return n != nullptr ? n : "DLT_" + std::to_string(dlt);
}

LinkDecode decodeLink(int dlt, std::span<const std::byte> f, std::size_t wire_len) noexcept {
  switch (dlt) {
    case DLT_EN10MB: {
      // Ethernet II: dst(6) src(6) type(2), then any number of VLAN tags (type(2) TCI(2)).
      if (f.size() < 14) {
        return LinkDecode{};
      }
      std::size_t off = 12;
      std::uint16_t type = be16(f, off);
      for (int tags = 0; type == kEtherVlan || type == kEtherQinQ || type == kEtherQinQOld;
           ++tags) {
        if (tags == kMaxVlanTags) {
          return LinkDecode{LinkResult::kNotIp, {}, 0};
        }
        off += 4;
        if (f.size() < off + 2) {
          return LinkDecode{};
        }
        type = be16(f, off);
      }
      return byEthertype(type, f, off + 2, wire_len);
    }
    case DLT_LINUX_SLL:
      // Cooked v1: packet type(2) ARPHRD(2) addr len(2) addr(8) protocol(2).
      if (f.size() < 16) {
        return LinkDecode{};
      }
      return byEthertype(be16(f, 14), f, 16, wire_len);
    case DLT_LINUX_SLL2:
      // Cooked v2: protocol(2) reserved(2) ifindex(4) ARPHRD(2) type(1) addr len(1) addr(8).
      if (f.size() < 20) {
        return LinkDecode{};
      }
      return byEthertype(be16(f, 0), f, 20, wire_len);
    case DLT_RAW:
    case DLT_IPV4:
    case DLT_IPV6:
      return byVersionNibble(f, 0, wire_len);
    case DLT_NULL:
    case DLT_LOOP: {
      // BSD loopback: a 4-byte address family, host order (NULL, as written by the capturing
      // host: either order is tried) or network order (LOOP). AF_INET is 2 everywhere; AF_INET6
      // is 24 (NetBSD/OpenBSD), 28 (FreeBSD) or 30 (macOS).
      if (f.size() < 4) {
        return LinkDecode{};
      }
      const auto b = [&](std::size_t i) { return std::to_integer<std::uint32_t>(f[i]); };
      const std::uint32_t le = b(0) | (b(1) << 8) | (b(2) << 16) | (b(3) << 24);
      const std::uint32_t be = (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
      for (const std::uint32_t af : {le, be}) {
        if (af == 2 || af == 24 || af == 28 || af == 30) {
          return byVersionNibble(f, 4, wire_len);
        }
      }
      return LinkDecode{LinkResult::kNotIp, {}, 0};
    }
    default:
      return LinkDecode{LinkResult::kNotIp, {}, 0};
  }
}

}  // namespace synguard::daemon
