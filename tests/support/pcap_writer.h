#pragma once

#include <cstddef>
#include <cstdint>
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

/// Link-layer headers to wrap IP packets in.
std::vector<std::byte> ethernet(const std::vector<std::byte>& ip, std::vector<std::uint16_t> vlan_tpids = {});
std::vector<std::byte> linuxSll(const std::vector<std::byte>& ip);
std::vector<std::byte> linuxSll2(const std::vector<std::byte>& ip);
std::vector<std::byte> bsdNull(const std::vector<std::byte>& ip, bool network_order);
/// An ARP request in Ethernet: a frame that holds no IP.
std::vector<std::byte> ethernetArp();

}  // namespace synguard::testing
