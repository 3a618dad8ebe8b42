#include "engine/packet/tcp_writer.h"

#include "engine/packet/checksum.h"
#include "engine/packet/segment.h"

namespace synguard::engine {

namespace {

constexpr std::uint8_t kOptNop = 1;
constexpr std::uint8_t kOptMss = 2;
constexpr std::uint8_t kOptWscale = 3;
constexpr std::uint8_t kOptSackPerm = 4;
constexpr std::uint8_t kOptTimestamps = 8;

void put16(std::byte* p, std::uint16_t v) noexcept {
  p[0] = static_cast<std::byte>(v >> 8);
  p[1] = static_cast<std::byte>(v);
}

void put32(std::byte* p, std::uint32_t v) noexcept {
  p[0] = static_cast<std::byte>(v >> 24);
  p[1] = static_cast<std::byte>(v >> 16);
  p[2] = static_cast<std::byte>(v >> 8);
  p[3] = static_cast<std::byte>(v);
}
// Sum of big-endian 16-bit words of `n` (even) bytes at `o`, from the bytes (for the options
// only, written byte by byte; read as bytes, so store forwarding works).
std::uint32_t sumBytes(const std::byte* o, std::size_t n) noexcept {
  std::uint32_t s = 0;
  for (std::size_t i = 0; i < n; i += 2) {
    s += (std::to_integer<std::uint32_t>(o[i]) << 8) | std::to_integer<std::uint32_t>(o[i + 1]);
  }
  return s;
}

/// The option bytes, padded to a multiple of 4; returns their length (at most 20).
std::size_t writeOptions(const TcpOut& s, std::byte* o) noexcept {
  std::size_t n = 0;
  const auto b = [&](std::uint8_t v) { o[n++] = static_cast<std::byte>(v); };
  if (s.mss != 0) {
    b(kOptMss);
    b(4);
    put16(o + n, s.mss);
    n += 2;
  }
  if (s.has_timestamps) {
    if (s.sack_permitted) {
      b(kOptSackPerm);
      b(2);
    } else {
      b(kOptNop);
      b(kOptNop);
    }
    b(kOptTimestamps);
    b(10);
    put32(o + n, s.ts_val);
    put32(o + n + 4, s.ts_ecr);
    n += 8;
  } else if (s.sack_permitted) {
    b(kOptNop);
    b(kOptNop);
    b(kOptSackPerm);
    b(2);
  }
  if (s.has_wscale) {
    b(kOptNop);
    b(kOptWscale);
    b(3);
    b(s.wscale);
  }
  return n;
}

}  // namespace

std::size_t writeTcpPacket(const TcpOut& s, WrittenPacket& out) noexcept {
  return writeTcpPacket(s, out.data());
}

std::size_t writeTcpPacket(const TcpOut& s, std::byte* const out) noexcept {
  const bool v4 = s.src.isV4();
  const std::size_t ip_len = v4 ? 20 : 40;
  std::byte* const tcp = out + ip_len;
  const std::size_t opt_len = writeOptions(s, tcp + 20);
  const std::size_t tcp_len = 20 + opt_len;
  const std::size_t total = ip_len + tcp_len;

  std::byte* const ip = out;
  if (v4) {
    ip[0] = std::byte{0x45};
    ip[1] = static_cast<std::byte>(s.tos);
    put16(ip + 2, static_cast<std::uint16_t>(total));
    put16(ip + 4, 0);       // ID 0 with DF, as Linux (RFC 6864 §4.1: atomic datagrams)
    put16(ip + 6, 0x4000);  // DF
    ip[8] = static_cast<std::byte>(s.ttl);
    ip[9] = std::byte{6};
    put16(ip + 10, 0);
    const std::uint32_t sa = s.src.v4HostOrder();
    const std::uint32_t da = s.dst.v4HostOrder();
    put32(ip + 12, sa);
    put32(ip + 16, da);
    std::uint32_t ipsum = (0x4500U | s.tos) + static_cast<std::uint32_t>(total) + 0x4000U +
                          ((std::uint32_t{s.ttl} << 8) | 6U) + (sa >> 16) + (sa & 0xffff) +
                          (da >> 16) + (da & 0xffff);
    put16(ip + 10, checksumFinish(ipsum));
  } else {
    put32(ip, 0x60000000U | (std::uint32_t{s.tos} << 20));
    put16(ip + 4, static_cast<std::uint16_t>(tcp_len));
    ip[6] = std::byte{6};
    ip[7] = static_cast<std::byte>(s.ttl);
    for (std::size_t i = 0; i < 16; ++i) {
      ip[8 + i] = static_cast<std::byte>(s.src.bytes()[i]);
      ip[24 + i] = static_cast<std::byte>(s.dst.bytes()[i]);
    }
  }
  put16(tcp, s.src_port);
  put16(tcp + 2, s.dst_port);
  put32(tcp + 4, s.seq.raw());
  put32(tcp + 8, (s.flags & kAck) != 0 ? s.ack.raw() : 0U);
  tcp[12] = static_cast<std::byte>((tcp_len / 4) << 4);
  tcp[13] = static_cast<std::byte>(s.flags);
  put16(tcp + 14, s.window);
  put16(tcp + 16, 0);
  put16(tcp + 18, 0);
  if (v4) {
    const std::uint32_t sa = s.src.v4HostOrder();
    const std::uint32_t da = s.dst.v4HostOrder();
    const std::uint32_t ackv = (s.flags & kAck) != 0 ? s.ack.raw() : 0U;
    std::uint32_t sum = (sa >> 16) + (sa & 0xffff) + (da >> 16) + (da & 0xffff) + 6U +
                        static_cast<std::uint32_t>(tcp_len) + s.src_port + s.dst_port +
                        (s.seq.raw() >> 16) + (s.seq.raw() & 0xffff) + (ackv >> 16) +
                        (ackv & 0xffff) +
                        ((static_cast<std::uint32_t>((tcp_len / 4) << 4) << 8) | s.flags) +
                        s.window + sumBytes(tcp + 20, opt_len);
    put16(tcp + 16, checksumFinish(sum));
  } else {
    put16(tcp + 16, tcpChecksum(std::span<const std::byte>(out, total), ip_len, tcp_len));
  }
  return total;
}

}  // namespace synguard::engine
