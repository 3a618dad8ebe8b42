#include "engine/protect/translate.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "engine/packet/checksum.h"
#include "engine/packet/tcp_writer.h"
#include "tests/support/packet_builder.h"

namespace synguard::engine {
namespace {

using testing::PacketBuilder;

bool checksumOk(const std::vector<std::byte>& p, const Segment& s) {
  return tcpChecksum(p, s.tcp_offset, p.size() - s.tcp_offset) == 0;
}

Translation inverse(const Translation& t) {
  Translation i = t;
  i.seq_delta = 0U - t.seq_delta;
  i.ts_off = 0U - t.ts_off;
  std::swap(i.client_shift_c, i.client_shift_s);
  std::swap(i.server_shift_s, i.server_shift_c);
  return i;
}

/// A random segment of an established connection: any of ACK/PSH/FIN/RST/URG, timestamps or
/// not, 0-4 SACK blocks (3 with timestamps: 40 bytes of options), IPv4 or IPv6, some payload.
std::vector<std::byte> randomSegment(std::mt19937_64& rng) {
  const auto u32 = [&] { return static_cast<std::uint32_t>(rng()); };
  PacketBuilder b = (rng() & 1) != 0 ? PacketBuilder::ipv4("192.0.2.10", "198.51.100.1")
                                     : PacketBuilder::ipv6("2001:db8:c::10", "2001:db8:5::10");
  b.tcp(static_cast<std::uint16_t>(1024 + rng() % 60000), 443).seq(u32()).ack(u32());
  if (rng() % 4 == 0) {
    b.psh();
  }
  if (rng() % 8 == 0) {
    b.fin();
  }
  if (rng() % 16 == 0) {
    b.rst();
  }
  b.window(static_cast<std::uint16_t>(rng()));
  const bool ts = rng() % 3 != 0;
  if (ts) {
    b.timestamps(u32(), u32());
  }
  std::vector<std::pair<std::uint32_t, std::uint32_t>> sack(rng() % (ts ? 4 : 5));
  for (auto& blk : sack) {
    blk = {u32(), u32()};
  }
  if (!sack.empty()) {
    b.sack(sack);
  }
  b.payload(rng() % 3 == 0 ? 0 : rng() % 1400);
  return b.build();
}

TEST(Translation, RandomSegmentsAreExactlyInvertibleWithValidChecksums) {
  std::mt19937_64 rng(20261125);
  for (int i = 0; i < 20000; ++i) {
    Translation t;
    t.seq_delta = static_cast<std::uint32_t>(rng());
    t.ts_off = static_cast<std::uint32_t>(rng());
    // Equal shifts on both sides: windows pass unchanged, so the mapping is a bijection.
    t.client_shift_c = t.client_shift_s = static_cast<std::uint8_t>(rng() % 15);
    t.server_shift_c = t.server_shift_s = static_cast<std::uint8_t>(rng() % 15);
    const auto original = randomSegment(rng);
    auto bytes = original;
    Segment seg;
    ASSERT_EQ(parseSegment(bytes, seg), ParseError::kNone);
    const Segment before = seg;
    const bool to_server = (rng() & 1) != 0;
    if (to_server) {
      translateToServer(bytes, seg, t, false);
    } else {
      translateToClient(bytes, seg, t, false);
    }
    ASSERT_TRUE(checksumOk(bytes, seg)) << i;
    // The parse kept in step with the bytes.
    Segment reparsed;
    ASSERT_EQ(parseSegment(bytes, reparsed), ParseError::kNone);
    EXPECT_EQ(reparsed.seq, seg.seq);
    EXPECT_EQ(reparsed.ack, seg.ack);
    EXPECT_EQ(reparsed.options.ts_val, seg.options.ts_val);
    EXPECT_EQ(reparsed.options.ts_ecr, seg.options.ts_ecr);
    if (to_server) {
      EXPECT_EQ(reparsed.seq, before.seq);
      if (before.has(kAck)) {
        EXPECT_EQ(reparsed.ack.raw(), before.ack.raw() + t.seq_delta);
      }
      for (std::size_t k = 0; k < before.options.sack_count; ++k) {
        EXPECT_EQ(reparsed.options.sack[k].left.raw(),
                  before.options.sack[k].left.raw() + t.seq_delta);
      }
      if (before.options.has_timestamps) {
        EXPECT_EQ(reparsed.options.ts_val, before.options.ts_val);
        EXPECT_EQ(reparsed.options.ts_ecr, before.options.ts_ecr - t.ts_off);
      }
    } else {
      EXPECT_EQ(reparsed.seq.raw(), before.seq.raw() - t.seq_delta);
      EXPECT_EQ(reparsed.ack, before.ack);
      if (before.options.has_timestamps) {
        EXPECT_EQ(reparsed.options.ts_val, before.options.ts_val + t.ts_off);
        EXPECT_EQ(reparsed.options.ts_ecr, before.options.ts_ecr);
      }
    }
    // And back.
    if (to_server) {
      translateToServer(bytes, seg, inverse(t), false);
    } else {
      translateToClient(bytes, seg, inverse(t), false);
    }
    ASSERT_EQ(bytes, original) << i;
  }
}

TEST(Translation, OptionsAtOddOffsetsKeepTheChecksumRight) {
  // No stack we know of lays out timestamps or SACK blocks at odd offsets, but RFC 9293 allows
  // any layout: a NOP before the timestamps puts TSval, TSecr and the SACK edges on odd bytes,
  // where a 16-bit incremental update must see them byte-swapped.
  std::mt19937_64 rng(1624);
  for (int i = 0; i < 2000; ++i) {
    const auto u8 = [&] { return static_cast<std::uint8_t>(rng()); };
    std::vector<std::uint8_t> opts{1, 8, 10};
    for (int k = 0; k < 8; ++k) {
      opts.push_back(u8());  // TSval, TSecr
    }
    opts.push_back(5);
    opts.push_back(10);
    for (int k = 0; k < 8; ++k) {
      opts.push_back(u8());  // one SACK block
    }
    opts.insert(opts.end(), {1, 1, 1});
    PacketBuilder b = (i & 1) != 0 ? PacketBuilder::ipv4("192.0.2.10", "198.51.100.1")
                                   : PacketBuilder::ipv6("2001:db8:c::10", "2001:db8:5::10");
    const auto original = b.tcp(40000, 443)
                              .seq(static_cast<std::uint32_t>(rng()))
                              .ack(static_cast<std::uint32_t>(rng()))
                              .rawOptions(opts)
                              .payload(rng() % 100)
                              .build();
    auto bytes = original;
    Segment seg;
    ASSERT_EQ(parseSegment(bytes, seg), ParseError::kNone);
    ASSERT_TRUE(seg.options.has_timestamps);
    ASSERT_EQ(seg.options.ts_offset % 2, 1U) << "the test must put the timestamps on odd bytes";
    ASSERT_EQ(seg.options.sack_count, 1U);
    Translation t{static_cast<std::uint32_t>(rng()), static_cast<std::uint32_t>(rng()), 7, 7, 9, 9};
    const bool to_server = (rng() & 1) != 0;
    if (to_server) {
      translateToServer(bytes, seg, t, false);
    } else {
      translateToClient(bytes, seg, t, false);
    }
    ASSERT_TRUE(checksumOk(bytes, seg)) << i << (to_server ? " to the server" : " to the client");
    if (to_server) {
      translateToServer(bytes, seg, inverse(t), false);
    } else {
      translateToClient(bytes, seg, inverse(t), false);
    }
    ASSERT_EQ(bytes, original) << i;
  }
}

TEST(Translation, FullRecomputeAgreesWithIncrementalUpdate) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    Translation t{static_cast<std::uint32_t>(rng()), static_cast<std::uint32_t>(rng()), 7, 9, 9, 7};
    auto a = randomSegment(rng);
    auto b = a;
    Segment sa;
    Segment sb;
    ASSERT_EQ(parseSegment(a, sa), ParseError::kNone);
    ASSERT_EQ(parseSegment(b, sb), ParseError::kNone);
    translateToClient(a, sa, t, false);
    translateToClient(b, sb, t, true);
    ASSERT_EQ(a, b) << i;
  }
}

TEST(Translation, WindowsAreRescaledBetweenShifts) {
  EXPECT_EQ(rescaleWindow(100, 9, 7), 400);
  EXPECT_EQ(rescaleWindow(400, 7, 9), 100);
  EXPECT_EQ(rescaleWindow(1000, 7, 0), 65535);  // clamped
  EXPECT_EQ(rescaleWindow(127, 0, 7), 0);       // rounded down, as a receiver rounds
  EXPECT_EQ(rescaleWindow(65535, 14, 14), 65535);
}

TEST(TcpWriter, WritesWhatTheParserReadsBackWithValidChecksums) {
  for (const bool v6 : {false, true}) {
    for (int mask = 0; mask < 16; ++mask) {
      TcpOut o;
      o.src = *IpAddress::parse(v6 ? "2001:db8:5::10" : "198.51.100.1");
      o.dst = *IpAddress::parse(v6 ? "2001:db8:c::10" : "192.0.2.10");
      o.src_port = 443;
      o.dst_port = 40000;
      o.seq = SeqNum{0xdeadbeef};
      o.ack = SeqNum{1001};
      o.flags = kSyn | kAck;
      o.window = 0;
      o.mss = (mask & 1) != 0 ? 1460 : 0;
      o.has_wscale = (mask & 2) != 0;
      o.wscale = 9;
      o.sack_permitted = (mask & 4) != 0;
      o.has_timestamps = (mask & 8) != 0;
      o.ts_val = 0x11223344;
      o.ts_ecr = 0x55667788;
      WrittenPacket out;
      const std::size_t n = writeTcpPacket(o, out);
      const std::vector<std::byte> p(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n));
      Segment s;
      ASSERT_EQ(parseSegment(p, s), ParseError::kNone) << mask;
      EXPECT_TRUE(checksumOk(p, s));
      if (!v6) {
        EXPECT_EQ(internetChecksum(std::span<const std::byte>(p.data(), 20)), 0);
      }
      EXPECT_EQ(s.src, o.src);
      EXPECT_EQ(s.dst, o.dst);
      EXPECT_EQ(s.flags, kSyn | kAck);
      EXPECT_EQ(s.seq, o.seq);
      EXPECT_EQ(s.ack, o.ack);
      EXPECT_EQ(s.options.has_mss, (mask & 1) != 0);
      EXPECT_EQ(s.options.has_wscale, (mask & 2) != 0);
      EXPECT_EQ(s.options.sack_permitted, (mask & 4) != 0);
      EXPECT_EQ(s.options.has_timestamps, (mask & 8) != 0);
      if (s.options.has_timestamps) {
        EXPECT_EQ(s.options.ts_val, o.ts_val);
        EXPECT_EQ(s.options.ts_ecr, o.ts_ecr);
      }
      EXPECT_EQ(s.tcp_header_len % 4, 0);
    }
  }
}

TEST(TcpWriter, LaysOutOptionsAsLinux) {
  // Linux SYN-ACK with everything: MSS, SACK-permitted + timestamps, NOP + window scale.
  TcpOut o;
  o.src = *IpAddress::parse("198.51.100.1");
  o.dst = *IpAddress::parse("192.0.2.10");
  o.flags = kSyn | kAck;
  o.mss = 1460;
  o.has_wscale = true;
  o.wscale = 7;
  o.sack_permitted = true;
  o.has_timestamps = true;
  WrittenPacket out;
  ASSERT_EQ(writeTcpPacket(o, out), 60U);
  const std::uint8_t expect[20] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0,
                                   0, 0, 0,    0,    0, 0, 1, 3,  3, 7};
  for (std::size_t i = 0; i < 20; ++i) {
    EXPECT_EQ(std::to_integer<std::uint8_t>(out[40 + i]), expect[i]) << i;
  }
  EXPECT_EQ(std::to_integer<std::uint8_t>(out[6]), 0x40);  // DF
}

}  // namespace
}  // namespace synguard::engine
