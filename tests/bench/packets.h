#pragma once

// Minimal, allocation-free IPv4/TCP packet writer for benchmarks and capture generation (the test
// PacketBuilder is for readability; this one is for producing millions of packets fast).
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "engine/clock.h"
#include "engine/packet/checksum.h"
#include "engine/packet/segment.h"

namespace synguard::bench {

struct RawTcp {
  std::uint32_t src = 0;
  std::uint32_t dst = 0;
  std::uint16_t sport = 0;
  std::uint16_t dport = 0;
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::uint8_t flags = 0;
  std::uint16_t window = 64240;
  std::uint16_t payload = 0;
  bool mss_option = false;
};

inline void put16(std::byte* p, std::uint16_t v) {
  p[0] = std::byte(v >> 8);
  p[1] = std::byte(v & 0xff);
}
inline void put32(std::byte* p, std::uint32_t v) {
  put16(p, static_cast<std::uint16_t>(v >> 16));
  put16(p + 2, static_cast<std::uint16_t>(v & 0xffff));
}

/// Writes an IPv4 + TCP packet into `out` (at least 64 + payload bytes); returns its length.
inline std::size_t writeTcp(const RawTcp& t, std::byte* out) {
  const std::size_t tcp_len = t.mss_option ? 24 : 20;
  const std::size_t total = 20 + tcp_len + t.payload;
  std::byte* ip = out;
  for (std::size_t i = 0; i < total; ++i) {
    ip[i] = std::byte{0};
  }
  ip[0] = std::byte{0x45};
  put16(ip + 2, static_cast<std::uint16_t>(total));
  ip[6] = std::byte{0x40};  // DF
  ip[8] = std::byte{64};
  ip[9] = std::byte{6};
  put32(ip + 12, t.src);
  put32(ip + 16, t.dst);
  put16(ip + 10, engine::internetChecksum(std::span<const std::byte>(ip, 20)));
  std::byte* tcp = ip + 20;
  put16(tcp, t.sport);
  put16(tcp + 2, t.dport);
  put32(tcp + 4, t.seq);
  put32(tcp + 8, t.ack);
  tcp[12] = std::byte(static_cast<std::uint8_t>((tcp_len / 4) << 4));
  tcp[13] = std::byte{t.flags};
  put16(tcp + 14, t.window);
  if (t.mss_option) {
    tcp[20] = std::byte{2};
    tcp[21] = std::byte{4};
    put16(tcp + 22, 1460);
  }
  put16(tcp + 16,
        engine::tcpChecksum(std::span<const std::byte>(ip, total), 20, tcp_len + t.payload));
  return total;
}

/// A small xorshift generator: deterministic, fast.
struct XorShift {
  std::uint64_t s = 0x9e3779b97f4a7c15ULL;
  std::uint64_t operator()() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
};

/// Packets laid out back to back.
struct PacketSet {
  std::vector<std::byte> bytes;
  std::vector<std::size_t> offsets;
  std::vector<std::uint16_t> lens;
  void add(const RawTcp& t) {
    const std::size_t at = bytes.size();
    bytes.resize(at + 64 + t.payload);
    offsets.push_back(at);
    lens.push_back(static_cast<std::uint16_t>(writeTcp(t, bytes.data() + at)));
  }
  std::span<const std::byte> at(std::size_t i) const {
    return {bytes.data() + offsets[i], lens[i]};
  }
  std::size_t size() const { return lens.size(); }
};

constexpr std::uint32_t kServer = 0xc6336401;  // 198.51.100.1

/// A spoofed-source SYN flood: random sources in 198.18.0.0/15 (RFC 2544 benchmarking range),
/// random source ports and ISNs, one destination service (in-memory packets only).
inline PacketSet synFlood(std::size_t n, std::uint64_t seed = 0x9e3779b97f4a7c15ULL) {
  PacketSet s;
  XorShift rng{seed};
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t r = rng();
    s.add(RawTcp{.src = 0xc6120000U | static_cast<std::uint32_t>(r & 0x1ffff),
                 .dst = kServer,
                 .sport = static_cast<std::uint16_t>(1024 + ((r >> 17) % 64000)),
                 .dport = 80,
                 .seq = static_cast<std::uint32_t>(r >> 32),
                 .flags = engine::kSyn,
                 .mss_option = true});
  }
  return s;
}

/// Benchmark time: moved by hand.
class StepClock : public engine::Clock {
 public:
  explicit StepClock(std::chrono::seconds start = std::chrono::seconds(1)) : t{start} {}
  engine::MonotonicTime now() const noexcept override { return t; }
  engine::MonotonicTime t;
};

}  // namespace synguard::bench
