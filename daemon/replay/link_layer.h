#pragma once

#include <cstddef>
#include <span>
#include <string>

namespace synguard::replay {

/// What decodeLink() found in a captured frame.
enum class LinkResult {
  kIp,         ///< an IPv4 or IPv6 packet was found (its bytes may still be cut by the snaplen)
  kNotIp,      ///< ARP, LLDP, MPLS, PPPoE, too many VLAN tags, ...: counted and skipped
  kTruncated,  ///< the frame ends inside its link header (or before the IP version nibble)
};

/// The IP packet inside a frame. For kIp, `ip` is a view into the frame (never past its
/// captured length) and `ip_wire_length >= ip.size()`; for the other results both are empty.
struct LinkDecode {
  LinkResult result = LinkResult::kTruncated;
  std::span<const std::byte> ip;   ///< the captured bytes of the IP packet
  std::size_t ip_wire_length = 0;  ///< its length on the wire (> ip.size() when snapped)
};

/// Finds the IP packet in a captured frame of link type `dlt`: a DLT_ value as pcap_datalink()
/// returns it (libpcap maps the file's LINKTYPE_, e.g. LINKTYPE_RAW 101 -> DLT_RAW). `wire_len`
/// is the frame's original length (pcap_pkthdr::len). Supported:
///  - DLT_EN10MB: Ethernet II, up to kMaxVlanTags 802.1Q (0x8100), 802.1ad (0x88a8) or 0x9100 tags;
///  - DLT_LINUX_SLL (16-byte header) and DLT_LINUX_SLL2 (20-byte header);
///  - DLT_RAW, DLT_IPV4, DLT_IPV6: the frame is the IP packet (version nibble checked);
///  - DLT_NULL, DLT_LOOP: 4-byte BSD address family, either byte order.
/// Any other `dlt` gives kNotIp; check linkTypeSupported() first. Pure and thread-safe.
LinkDecode decodeLink(int dlt, std::span<const std::byte> frame, std::size_t wire_len) noexcept;

/// The most VLAN tags decodeLink() walks through; a frame with more is kNotIp.
inline constexpr int kMaxVlanTags = 4;

/// True when decodeLink() understands `dlt`.
bool linkTypeSupported(int dlt) noexcept;

/// libpcap's name for `dlt` ("EN10MB", "LINUX_SLL2", ...), or "DLT_<n>" when it has none.
std::string linkTypeName(int dlt);

}  // namespace synguard::replay
