#pragma once

#include <cstddef>
#include <span>
#include <string>

namespace synguard::daemon {

enum class LinkResult {
  kIp,         ///< an IPv4 or IPv6 packet was found
  kNotIp,      ///< ARP, LLDP, MPLS, PPPoE, ...: counted and skipped
  kTruncated,  ///< the frame ends inside its link header
};

struct LinkDecode {
  LinkResult result = LinkResult::kTruncated;
  std::span<const std::byte> ip;    ///< the captured bytes of the IP packet
  std::size_t ip_wire_length = 0;   ///< its length on the wire (> ip.size() when snapped)
};

/// Finds the IP packet in a captured frame of link type `dlt` (pcap DLT_ value).
LinkDecode decodeLink(int dlt, std::span<const std::byte> frame, std::size_t wire_len) noexcept;
bool linkTypeSupported(int dlt) noexcept;
std::string linkTypeName(int dlt);

}  // namespace synguard::daemon
