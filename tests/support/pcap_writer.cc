#include "tests/support/pcap_writer.h"

#include <pcap/pcap.h>

#include <array>
#include <bit>
#include <cstdio>
#include <stdexcept>
#include <utility>

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
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): libpcap API
  pcap_dump(static_cast<u_char*>(dumper_), &h, reinterpret_cast<const u_char*>(frame.data()));
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
// pcapng block types and options (draft-ietf-opsawg-pcapng §4.1-4.3).
constexpr std::uint32_t kShb = 0x0A0D0D0A;
constexpr std::uint32_t kIdb = 0x00000001;
constexpr std::uint32_t kEpb = 0x00000006;
constexpr std::uint32_t kByteOrderMagic = 0x1A2B3C4D;
constexpr std::uint16_t kIfTsresol = 9;

template <typename T>
void putHost(std::vector<std::byte>& v, T x) {
  const auto bytes = std::bit_cast<std::array<std::byte, sizeof(T)>>(x);  // host byte order
  v.insert(v.end(), bytes.begin(), bytes.end());
}
}  // namespace

PcapngWriter::PcapngWriter(const std::string& path, int linktype, bool nano, std::uint32_t snaplen)
    : file_(std::fopen(path.c_str(), "wb")), nano_(nano) {
  if (file_ == nullptr) {
    throw std::runtime_error("PcapngWriter: cannot create " + path);
  }
  std::vector<std::byte> shb;
  putHost(shb, kByteOrderMagic);
  putHost(shb, std::uint16_t{1});  // major version
  putHost(shb, std::uint16_t{0});  // minor version
  putHost(shb, std::int64_t{-1});  // section length: not given
  block(kShb, shb);
  std::vector<std::byte> idb;
  putHost(idb, static_cast<std::uint16_t>(linktype));  // a LINKTYPE_ value
  putHost(idb, std::uint16_t{0});
  putHost(idb, snaplen);
  if (nano) {
    putHost(idb, kIfTsresol);
    putHost(idb, std::uint16_t{1});
    idb.push_back(std::byte{9});     // 10^-9 s
    idb.resize(idb.size() + 3);      // pad the option to 32 bits
    putHost(idb, std::uint32_t{0});  // opt_endofopt
  }
  block(kIdb, idb);
}

PcapngWriter::~PcapngWriter() { close(); }

void PcapngWriter::block(std::uint32_t type, const std::vector<std::byte>& body) {
  const auto total = static_cast<std::uint32_t>(12 + body.size());
  std::vector<std::byte> b;
  putHost(b, type);
  putHost(b, total);
  b.insert(b.end(), body.begin(), body.end());
  putHost(b, total);
  if (std::fwrite(b.data(), 1, b.size(), file_) != b.size()) {
    throw std::runtime_error("PcapngWriter: write failed");
  }
}

void PcapngWriter::add(const std::vector<std::byte>& frame, std::int64_t ts_ns,
                       std::size_t wire_len) {
  const auto units = static_cast<std::uint64_t>(nano_ ? ts_ns : ts_ns / 1000);
  std::vector<std::byte> epb;
  putHost(epb, std::uint32_t{0});  // interface id
  putHost(epb, static_cast<std::uint32_t>(units >> 32));
  putHost(epb, static_cast<std::uint32_t>(units & 0xffffffffU));
  putHost(epb, static_cast<std::uint32_t>(frame.size()));
  putHost(epb, static_cast<std::uint32_t>(wire_len != 0 ? wire_len : frame.size()));
  epb.insert(epb.end(), frame.begin(), frame.end());
  epb.resize((epb.size() + 3) / 4 * 4);
  block(kEpb, epb);
}

void PcapngWriter::close() {
  if (file_ != nullptr) {
    std::FILE* f = std::exchange(file_, nullptr);
    (void)std::fclose(f);  // NOLINT(cppcoreguidelines-owning-memory): the FILE is ours
  }
}

namespace {
void push16(std::vector<std::byte>& v, std::uint16_t x) {
  v.push_back(static_cast<std::byte>(x >> 8));
  v.push_back(static_cast<std::byte>(x & 0xff));
}
std::uint16_t ethertypeOf(const std::vector<std::byte>& ip) {
  return (std::to_integer<unsigned>(ip.at(0)) >> 4) == 6 ? 0x86dd : 0x0800;
}
}  // namespace

std::vector<std::byte> ethernet(const std::vector<std::byte>& ip,
                                const std::vector<std::uint16_t>& vlan_tpids) {
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

std::vector<std::byte> bsdNull(const std::vector<std::byte>& ip, bool network_order,
                               std::uint32_t af_inet6) {
  const std::uint32_t af = ethertypeOf(ip) == 0x86dd ? af_inet6 : 2;
  std::vector<std::byte> f(4);
  for (int i = 0; i < 4; ++i) {
    const int shift = network_order ? 24 - 8 * i : 8 * i;
    f[static_cast<std::size_t>(i)] = static_cast<std::byte>(af >> shift);
  }
  f.insert(f.end(), ip.begin(), ip.end());
  return f;
}

std::vector<std::byte> ethernetType(std::uint16_t ethertype,
                                    const std::vector<std::byte>& payload) {
  std::vector<std::byte> f(12, std::byte{0x02});
  push16(f, ethertype);
  f.insert(f.end(), payload.begin(), payload.end());
  return f;
}

std::vector<std::byte> ethernetArp() {
  std::vector<std::byte> f(12, std::byte{0xff});
  push16(f, 0x0806);
  f.resize(f.size() + 28, std::byte{0});
  return f;
}

}  // namespace synguard::testing
