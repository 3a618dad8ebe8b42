// Writes a pcap of a spoofed-source SYN flood mixed with a few normal connections, for replay
// throughput measurements: synguard_gen_flood OUT.pcap [PACKETS] [SOURCES]
#include <pcap/pcap.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/bench/packets.h"

int main(int argc, char** argv) {
  using synguard::bench::RawTcp;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s OUT.pcap [PACKETS=10000000] [SOURCES=10000000]\n", argv[0]);
    return 2;
  }
  const unsigned long long packets = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 10000000ULL;
  const unsigned long long sources = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 10000000ULL;
  pcap_t* dead = pcap_open_dead(DLT_RAW, 65535);
  pcap_dumper_t* d = pcap_dump_open(dead, argv[1]);
  if (d == nullptr) {
    std::fprintf(stderr, "%s: %s\n", argv[1], pcap_geterr(dead));
    return 1;
  }
  synguard::bench::XorShift rng;
  std::byte buf[256];
  const long base_sec = 1764000000;  // 2025-11-24
  for (unsigned long long i = 0; i < packets; ++i) {
    const std::uint64_t r = rng();
    // Spoofed sources: distinct addresses counted from 10.0.0.0 (in-memory test data only),
    // wrapping after `sources`.
    const auto src_index = static_cast<std::uint32_t>(sources ? i % sources : i);
    RawTcp t{.src = 0x0a000000U + src_index,
             .dst = 0xc6336401U,
             .sport = static_cast<std::uint16_t>(1024 + (r % 64000)),
             .dport = 80,
             .seq = static_cast<std::uint32_t>(r >> 32),
             .flags = 0x02,
             .mss_option = true};
    const std::size_t len = synguard::bench::writeTcp(t, buf);
    pcap_pkthdr h{};
    // 10 Mpps of capture time: 100 ns apart.
    const unsigned long long ns = i * 100ULL;
    h.ts.tv_sec = static_cast<time_t>(base_sec + static_cast<long>(ns / 1000000000ULL));
    h.ts.tv_usec = static_cast<suseconds_t>((ns % 1000000000ULL) / 1000ULL);
    h.caplen = h.len = static_cast<bpf_u_int32>(len);
    pcap_dump(reinterpret_cast<u_char*>(d),
              &h,  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast): libpcap API
              reinterpret_cast<const u_char*>(
                  buf));  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast): libpcap API
  }
  pcap_dump_close(d);
  pcap_close(dead);
  return 0;
}
