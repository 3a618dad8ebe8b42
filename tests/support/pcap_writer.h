#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace synguard::testing {

/// Writes capture files for tests with libpcap (pcap_open_dead + pcap_dump).
class PcapWriter {
 public:
  /// `dlt` is a DLT_ value; `nano` writes a nanosecond-resolution file.
  PcapWriter(const std::string& path, int dlt, bool nano = false, int snaplen = 65535);
  ~PcapWriter();
  PcapWriter(const PcapWriter&) = delete;
  PcapWriter& operator=(const PcapWriter&) = delete;

  /// One frame; `wire_len` 0 means frame.size(). `ts_ns` is nanoseconds since the epoch.
  void add(const std::vector<std::byte>& frame, std::int64_t ts_ns, std::size_t wire_len = 0);
  void close();

 private:
  void* pcap_ = nullptr;
  void* dumper_ = nullptr;
  bool nano_ = false;
};

/// Writes pcapng files by hand (libpcap cannot): a Section Header Block, one Interface
/// Description Block (with if_tsresol 9 when `nano`) and one Enhanced Packet Block per frame,
/// all in host byte order, as the pcapng spec (draft-ietf-opsawg-pcapng) allows.
class PcapngWriter {
 public:
  PcapngWriter(const std::string& path, int linktype, bool nano = false, std::uint32_t snaplen = 0);
  ~PcapngWriter();
  PcapngWriter(const PcapngWriter&) = delete;
  PcapngWriter& operator=(const PcapngWriter&) = delete;

  /// One frame; `wire_len` 0 means frame.size(). `ts_ns` is nanoseconds since the epoch.
  void add(const std::vector<std::byte>& frame, std::int64_t ts_ns, std::size_t wire_len = 0);
  void close();

 private:
  void block(std::uint32_t type, const std::vector<std::byte>& body);

  std::FILE* file_ = nullptr;
  bool nano_ = false;
};

/// Link-layer headers to wrap IP packets in.
std::vector<std::byte> ethernet(const std::vector<std::byte>& ip,
                                const std::vector<std::uint16_t>& vlan_tpids = {});
std::vector<std::byte> linuxSll(const std::vector<std::byte>& ip);
std::vector<std::byte> linuxSll2(const std::vector<std::byte>& ip);
/// BSD loopback: address family 2 for IPv4, `af_inet6` (24, 28 or 30 by BSD) for IPv6.
std::vector<std::byte> bsdNull(const std::vector<std::byte>& ip, bool network_order,
                               std::uint32_t af_inet6 = 30);
/// An Ethernet II frame with any EtherType and payload (LLDP, MPLS, PPPoE...).
std::vector<std::byte> ethernetType(std::uint16_t ethertype, const std::vector<std::byte>& payload);
/// An ARP request in Ethernet: a frame that holds no IP.
std::vector<std::byte> ethernetArp();

}  // namespace synguard::testing
