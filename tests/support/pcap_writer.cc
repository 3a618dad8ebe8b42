#include "tests/support/pcap_writer.h"

#include <pcap/pcap.h>

#include <stdexcept>

namespace synguard::testing {

PcapWriter::PcapWriter(const std::string& path, int dlt, bool nano, int snaplen) : nano_(nano) {
  pcap_t* p = pcap_open_dead_with_tstamp_precision(
      dlt, snaplen, nano ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO);
  pcap_dumper_t* d = pcap_dump_open(p, path.c_str());
  if (d == nullptr) {
    const std::string err = pcap_geterr(p);
    pcap_close(p);
    throw std::runtime_error("PcapWriter: " + path + ": " + err);
  }
  pcap_ = p;
  dumper_ = d;
}

PcapWriter::~PcapWriter() { close(); }

void PcapWriter::add(const std::vector<std::byte>& frame, std::int64_t ts_ns,
                     std::size_t wire_len) {
  pcap_pkthdr h{};
  h.ts.tv_sec = static_cast<time_t>(ts_ns / 1'000'000'000);
  const std::int64_t sub = ts_ns % 1'000'000'000;
  h.ts.tv_usec = static_cast<suseconds_t>(nano_ ? sub : sub / 1000);
  h.caplen = static_cast<bpf_u_int32>(frame.size());
  h.len = static_cast<bpf_u_int32>(wire_len != 0 ? wire_len : frame.size());
  pcap_dump(static_cast<u_char*>(dumper_), &h,
            reinterpret_cast<const u_char*>(frame.data()));  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast): libpcap API
}

void PcapWriter::close() {
  if (dumper_ != nullptr) {
    pcap_dump_close(static_cast<pcap_dumper_t*>(dumper_));
    dumper_ = nullptr;
  }
  if (pcap_ != nullptr) {
    pcap_close(static_cast<pcap_t*>(pcap_));
    pcap_ = nullptr;
  }
}

namespace {
void push16(std::vector<std::byte>& v, std::uint16_t x) {
  v.push_back(std::byte(x >> 8));
  v.push_back(std::byte(x & 0xff));
}
std::uint16_t ethertypeOf(const std::vector<std::byte>& ip) {
  return (std::to_integer<unsigned>(ip.at(0)) >> 4) == 6 ? 0x86dd : 0x0800;
}
}  // namespace

std::vector<std::byte> ethernet(const std::vector<std::byte>& ip,
                                std::vector<std::uint16_t> vlan_tpids) {
  std::vector<std::byte> f(12, std::byte{0x02});
  for (const std::uint16_t tpid : vlan_tpids) {
    push16(f, tpid);
    push16(f, 100);  // VLAN id 100
  }
  push16(f, ethertypeOf(ip));
  f.insert(f.end(), ip.begin(), ip.end());
  return f;
}

std::vector<std::byte> linuxSll(const std::vector<std::byte>& ip) {
  std::vector<std::byte> f;
  push16(f, 0);  // packet type: to us
  push16(f, 1);  // ARPHRD_ETHER
  push16(f, 6);
  for (int i = 0; i < 8; ++i) {
    f.push_back(std::byte{0x02});
  }
  push16(f, ethertypeOf(ip));
  f.insert(f.end(), ip.begin(), ip.end());
  return f;
}

std::vector<std::byte> linuxSll2(const std::vector<std::byte>& ip) {
  std::vector<std::byte> f;
  push16(f, ethertypeOf(ip));
  push16(f, 0);
  for (int i = 0; i < 4; ++i) {
    f.push_back(std::byte{0});  // ifindex
  }
  push16(f, 1);  // ARPHRD_ETHER
  f.push_back(std::byte{0});
  f.push_back(std::byte{6});
  for (int i = 0; i < 8; ++i) {
    f.push_back(std::byte{0x02});
  }
  f.insert(f.end(), ip.begin(), ip.end());
  return f;
}

std::vector<std::byte> bsdNull(const std::vector<std::byte>& ip, bool network_order) {
  const std::uint32_t af = ethertypeOf(ip) == 0x86dd ? 30 : 2;
  std::vector<std::byte> f(4);
  for (int i = 0; i < 4; ++i) {
    const int shift = network_order ? 24 - 8 * i : 8 * i;
    f[static_cast<std::size_t>(i)] = std::byte(static_cast<std::uint8_t>(af >> shift));
  }
  f.insert(f.end(), ip.begin(), ip.end());
  return f;
}

std::vector<std::byte> ethernetArp() {
  std::vector<std::byte> f(12, std::byte{0xff});
  push16(f, 0x0806);
  f.resize(f.size() + 28, std::byte{0});
  return f;
}

}  // namespace synguard::testing
