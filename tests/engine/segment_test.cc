#include "engine/packet/segment.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

#include "engine/packet/checksum.h"
#include "tests/support/packet_builder.h"

namespace synguard::engine {
namespace {

using testing::fragmentOf;
using testing::PacketBuilder;

PacketBuilder v4() { return PacketBuilder::ipv4("192.0.2.1", "198.51.100.2").tcp(1234, 80); }
PacketBuilder v6() { return PacketBuilder::ipv6("2001:db8::1", "2001:db8::2").tcp(1234, 80); }

ParseError parse(const std::vector<std::byte>& p, Segment& s, ParseOptions o = {}) {
  return parseSegment(p, s, o);
}
ParseError parse(const std::vector<std::byte>& p, ParseOptions o = {}) {
  Segment s;
  return parseSegment(p, s, o);
}

TEST(ParseSegment, Ipv4SynWithEveryOption) {
  Segment s;
  const auto p = v4().syn()
                     .seq(0xfffffff0)
                     .window(29200)
                     .mss(1460)
                     .sackPermitted()
                     .timestamps(111, 0)
                     .wscale(7)
                     .build();
  ASSERT_EQ(parse(p, s), ParseError::kNone);
  EXPECT_EQ(s.ip_version, 4);
  EXPECT_EQ(s.src, *IpAddress::parse("192.0.2.1"));
  EXPECT_EQ(s.dst, *IpAddress::parse("198.51.100.2"));
  EXPECT_EQ(s.src_port, 1234);
  EXPECT_EQ(s.dst_port, 80);
  EXPECT_EQ(s.seq, SeqNum{0xfffffff0});
  EXPECT_TRUE(s.has(kSyn));
  EXPECT_FALSE(s.has(kAck));
  EXPECT_EQ(s.window, 29200);
  EXPECT_EQ(s.tcp_header_len, 40);
  EXPECT_EQ(s.payload_len, 0U);
  EXPECT_EQ(s.seqLen(), 1U);  // SYN consumes one sequence number
  EXPECT_TRUE(s.options.has_mss);
  EXPECT_EQ(s.options.mss, 1460);
  EXPECT_TRUE(s.options.sack_permitted);
  EXPECT_TRUE(s.options.has_timestamps);
  EXPECT_EQ(s.options.ts_val, 111U);
  EXPECT_EQ(s.options.ts_ecr, 0U);
  EXPECT_TRUE(s.options.has_wscale);
  EXPECT_EQ(s.options.wscale, 7);
  // The TSval offset points at the TSval bytes in the packet.
  ASSERT_GT(s.options.ts_offset, 0);
  EXPECT_EQ(std::to_integer<int>(p[s.options.ts_offset + 3]), 111);
}

TEST(ParseSegment, Ipv6WithExtensionHeaderChainAndSackBlocks) {
  for (std::size_t n = 1; n <= 4; ++n) {
    std::vector<std::pair<std::uint32_t, std::uint32_t>> blocks;
    for (std::uint32_t i = 0; i < n; ++i) {
      blocks.emplace_back(1000 * (i + 1), 1000 * (i + 1) + 500);
    }
    Segment s;
    const auto p = v6().ack(5)
                       .seq(9)
                       .ipv6ExtensionHeader(0, {1, 4, 0, 0, 0, 0})   // Hop-by-Hop, PadN
                       .ipv6ExtensionHeader(60, {1, 4, 0, 0, 0, 0})  // Destination Options
                       .ipv6ExtensionHeader(43, {0, 0, 0, 0, 0, 0})  // Routing, 0 segments left
                       .sack(blocks)
                       .payload(100)
                       .build();
    ASSERT_EQ(parse(p, s), ParseError::kNone) << n;
    EXPECT_EQ(s.ip_version, 6);
    EXPECT_EQ(s.payload_len, 100U);
    EXPECT_EQ(s.options.sack_count, n);
    EXPECT_EQ(s.options.sack[n - 1].left, SeqNum{1000 * static_cast<std::uint32_t>(n)});
    EXPECT_EQ(s.dst, *IpAddress::parse("2001:db8::2"));
  }
}

TEST(ParseSegment, Ipv6AuthenticationHeaderIsSkipped) {
  Segment s;
  const auto p = v6().ack(1).ipv6ExtensionHeader(51, {0, 0, 1, 2, 3, 4, 0, 0, 0, 1}).build();
  EXPECT_EQ(parse(p, s), ParseError::kNone);
  EXPECT_EQ(s.dst_port, 80);
}

// Every ParseError reason, each from one malformed packet.
TEST(ParseSegment, EveryMalformationHasItsReason) {
  EXPECT_EQ(parse({}), ParseError::kEmpty);
  auto bad_version = v4().syn().build();
  bad_version[0] = std::byte{0x55};
  EXPECT_EQ(parse(bad_version), ParseError::kBadIpVersion);
  auto short_v4 = v4().syn().build();
  short_v4.resize(19);
  EXPECT_EQ(parse(short_v4), ParseError::kTruncatedIpv4Header);
  EXPECT_EQ(parse(v4().syn().ihlOverride(4).build()), ParseError::kBadIhl);
  EXPECT_EQ(parse(v4().syn().ihlOverride(15).build()), ParseError::kTruncatedIpv4Header);
  EXPECT_EQ(parse(v4().syn().ipTotalLengthOverride(19).build()), ParseError::kTotalLengthMismatch);
  EXPECT_EQ(parse(v4().syn().ipTotalLengthOverride(1500).build()),
            ParseError::kTotalLengthMismatch);
  auto short_v6 = v6().syn().build();
  short_v6.resize(39);
  EXPECT_EQ(parse(short_v6), ParseError::kTruncatedIpv6Header);
  EXPECT_EQ(parse(v6().syn().ipTotalLengthOverride(1500).build()),
            ParseError::kPayloadLengthMismatch);
  EXPECT_EQ(parse(v6().syn().ipTotalLengthOverride(0).build()), ParseError::kPayloadLengthMismatch);
  auto trunc_ext = v6().syn().ipv6ExtensionHeader(0, {1, 4, 0, 0, 0, 0}).build();
  trunc_ext[41] = std::byte{10};  // the header now claims 88 bytes
  EXPECT_EQ(parse(trunc_ext), ParseError::kTruncatedExtensionHeader);
  auto many = v6().syn();
  for (int i = 0; i < 9; ++i) {
    many.ipv6ExtensionHeader(60, {1, 4, 0, 0, 0, 0});
  }
  EXPECT_EQ(parse(many.build()), ParseError::kTooManyExtensionHeaders);
  EXPECT_EQ(parse(v4().syn().fragment(10, false).build()), ParseError::kFragment);
  EXPECT_EQ(parse(v4().syn().fragment(1, false).build()), ParseError::kOverlappingFragment);
  EXPECT_EQ(parse(v6().syn().fragment(10, true).build()), ParseError::kFragment);
  EXPECT_EQ(parse(fragmentOf(v4().syn().mss(1460).build(), 0, 16, true)),
            ParseError::kTinyFragment);
  auto udp = v4().syn().build();
  udp[9] = std::byte{17};
  EXPECT_EQ(parse(udp), ParseError::kNotTcp);
  auto v6_icmp = v6().syn().ipv6ExtensionHeader(58, {}).build();
  EXPECT_EQ(parse(v6_icmp), ParseError::kNotTcp);
  auto short_tcp = v4().syn().build();
  short_tcp.resize(39);
  ParseOptions snapped;
  snapped.wire_length = 40;
  EXPECT_EQ(parse(short_tcp, snapped), ParseError::kTruncatedTcpHeader);
  EXPECT_EQ(parse(v4().syn().dataOffsetOverride(4).build()), ParseError::kBadDataOffset);
  EXPECT_EQ(parse(v4().syn().dataOffsetOverride(15).build()), ParseError::kDataOffsetBeyondPacket);
  EXPECT_EQ(parse(v4().syn().rawOptions({1, 1, 1, 2}).build()), ParseError::kOptionOverrun);
  EXPECT_EQ(parse(v4().syn().rawOptions({8, 10, 0, 0}).build()), ParseError::kOptionOverrun);
  EXPECT_EQ(parse(v4().syn().rawOptions({30, 0, 0, 0}).build()), ParseError::kZeroLengthOption);
  EXPECT_EQ(parse(v4().syn().rawOptions({30, 1, 0, 0}).build()), ParseError::kZeroLengthOption);
  EXPECT_EQ(parse(v4().syn().rawOptions({2, 3, 5, 0}).build()), ParseError::kBadOptionLength);
  EXPECT_EQ(parse(v4().syn().rawOptions({3, 4, 7, 0}).build()), ParseError::kBadOptionLength);
  EXPECT_EQ(parse(v4().syn().rawOptions({4, 3, 0, 0}).build()), ParseError::kBadOptionLength);
  EXPECT_EQ(parse(v4().ack(1).rawOptions({5, 6, 0, 0, 0, 0, 0, 0}).build()),
            ParseError::kBadOptionLength);
  EXPECT_EQ(parse(v4().ack(1).rawOptions({8, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}).build()),
            ParseError::kBadOptionLength);
  ParseOptions verify;
  verify.verify_checksum = true;
  EXPECT_EQ(parse(v4().syn().badChecksum().build(), verify), ParseError::kBadChecksum);
  EXPECT_EQ(parse(v6().syn().badChecksum().build(), verify), ParseError::kBadChecksum);
  EXPECT_EQ(parse(v4().syn().badChecksum().build()), ParseError::kNone);  // not asked to check
  // Every reason has a distinct name.
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < kParseErrorCount; ++i) {
    names.insert(toString(static_cast<ParseError>(i)));
  }
  EXPECT_EQ(names.size(), kParseErrorCount);
}

TEST(ParseSegment, Ipv6AtomicFragmentsAreParsedAsTheWholePacket) {
  // RFC 6946: a Fragment header with offset 0 and M = 0 is no fragment at all.
  const auto whole = v6().syn().seq(77).mss(1440).timestamps(5, 0).payload(10).build();
  const auto atomic = testing::atomicFragmentOf(whole);
  ASSERT_EQ(atomic.size(), whole.size() + 8);
  ParseOptions verify;
  verify.verify_checksum = true;
  Segment a;
  Segment w;
  ASSERT_EQ(parse(atomic, a, verify), ParseError::kNone);
  ASSERT_EQ(parse(whole, w, verify), ParseError::kNone);
  EXPECT_FALSE(a.first_fragment);
  EXPECT_EQ(a.flags, kSyn);
  EXPECT_EQ(a.seq.raw(), 77U);
  EXPECT_EQ(a.options.mss, 1440);
  EXPECT_EQ(a.payload_len, 10U);
  EXPECT_EQ(a.tcp_offset, w.tcp_offset + 8);
  // Its checksum is verified like any packet's.
  auto bad = testing::atomicFragmentOf(v6().syn().badChecksum().build());
  EXPECT_EQ(parse(bad, verify), ParseError::kBadChecksum);
  // Behind other extension headers, and twice (odd but harmless), still the whole packet.
  const auto behind =
      testing::atomicFragmentOf(v6().syn().ipv6ExtensionHeader(60, {1, 4, 0, 0, 0, 0}).build());
  EXPECT_EQ(parse(behind), ParseError::kNone);
  EXPECT_EQ(parse(testing::atomicFragmentOf(atomic)), ParseError::kNone);
  // A Fragment header cut by the end of the packet.
  auto cut = atomic;
  cut.resize(44);
  cut[5] = std::byte{4};
  EXPECT_EQ(parse(cut), ParseError::kTruncatedExtensionHeader);
}

TEST(ParseSegment, FirstFragmentsHoldingTheTcpHeaderAreParsedAsTheirSegment) {
  for (const bool six : {false, true}) {
    SCOPED_TRACE(six ? "IPv6" : "IPv4");
    auto whole =
        (six ? v6() : v4()).syn().seq(1000).mss(1460).sackPermitted().timestamps(9, 0).wscale(7);
    const auto bytes = whole.payload(100).build();  // a SYN with data: 40-byte TCP header
    const auto first = fragmentOf(bytes, 0, 48, true);
    Segment s;
    ParseOptions verify;
    verify.verify_checksum = true;  // skipped: the checksum covers the whole datagram
    ASSERT_EQ(parse(first, s, verify), ParseError::kNone);
    EXPECT_TRUE(s.first_fragment);
    EXPECT_EQ(s.flags, kSyn);
    EXPECT_EQ(s.seq.raw(), 1000U);
    EXPECT_EQ(s.src_port, 1234);
    EXPECT_EQ(s.dst_port, 80);
    EXPECT_EQ(s.tcp_header_len, 40);
    EXPECT_EQ(s.options.mss, 1460);
    EXPECT_EQ(s.options.ts_val, 9U);
    EXPECT_EQ(s.payload_len, 8U) << "the payload in this fragment";
    EXPECT_EQ(s.frag_proto, 6);
    // Exactly the header, nothing more: still whole.
    EXPECT_EQ(parse(fragmentOf(bytes, 0, 40, true), s), ParseError::kNone);
    EXPECT_EQ(s.payload_len, 0U);
    // The later fragments: offset 48 bytes is below 64 and could rewrite the header.
    EXPECT_EQ(parse(fragmentOf(bytes, 48, 200, false), s), ParseError::kOverlappingFragment);
    EXPECT_EQ(parse(fragmentOf(bytes, 64, 200, false), s), ParseError::kFragment);
    EXPECT_EQ(s.frag_proto, 6);
    EXPECT_EQ(parse(fragmentOf(bytes, 8, 200, false)), ParseError::kOverlappingFragment);
    // RFC 1858 tiny fragments: the fixed header, or the options, not all in the first fragment.
    EXPECT_EQ(parse(fragmentOf(bytes, 0, 16, true), s), ParseError::kTinyFragment);
    EXPECT_EQ(s.dst, *IpAddress::parse(six ? "2001:db8::2" : "198.51.100.2"));
    EXPECT_EQ(parse(fragmentOf(bytes, 0, 32, true)), ParseError::kTinyFragment);
    EXPECT_EQ(parse(fragmentOf(bytes, 0, 0, true)), ParseError::kTinyFragment);
    // A capture that cut a whole first fragment is a truncated capture, not a tiny fragment.
    auto cut = first;
    cut.resize(cut.size() - 40);
    ParseOptions snap;
    snap.wire_length = first.size();
    EXPECT_EQ(parse(cut, snap), ParseError::kTruncatedTcpHeader);
  }
  // IPv4: fragments of other protocols are counted, not judged.
  auto udp = fragmentOf(v4().syn().payload(100).build(), 0, 48, true);
  udp[9] = std::byte{17};
  Segment s;
  EXPECT_EQ(parse(udp, s), ParseError::kFragment);
  EXPECT_EQ(s.frag_proto, 17);
}

TEST(ParseSegment, Ipv6FragmentsBehindExtensionHeadersAreStillJudged) {
  // Destination Options in the fragmentable part, then TCP.
  const auto bytes =
      v6().syn().mss(1440).ipv6ExtensionHeader(60, {1, 4, 0, 0, 0, 0}).payload(200).build();
  Segment s;
  EXPECT_EQ(parse(fragmentOf(bytes, 0, 56, true), s), ParseError::kNone);
  EXPECT_TRUE(s.first_fragment);
  EXPECT_EQ(s.flags, kSyn);
  // The header chain cut in the first fragment (RFC 7112): tiny.
  EXPECT_EQ(parse(fragmentOf(bytes, 0, 8, true)), ParseError::kTinyFragment);
  EXPECT_EQ(parse(fragmentOf(bytes, 0, 16, true)), ParseError::kTinyFragment);
  // A later fragment whose part begins with an extension header may be TCP.
  EXPECT_EQ(parse(fragmentOf(bytes, 16, 200, false), s), ParseError::kOverlappingFragment);
  EXPECT_TRUE(fragmentMayBeTcp(s.frag_proto));
  EXPECT_EQ(parse(fragmentOf(bytes, 64, 200, false), s), ParseError::kFragment);
  EXPECT_EQ(s.frag_proto, 60);
  EXPECT_TRUE(fragmentMayBeTcp(s.frag_proto));
  // A second Fragment header inside a first fragment: no readable header chain.
  const auto inner = fragmentOf(v6().syn().payload(100).build(), 0, 48, true);
  std::vector<std::byte> nested = fragmentOf(inner, 0, inner.size() - 40, true);
  EXPECT_EQ(parse(nested), ParseError::kTinyFragment);
  // A first fragment of UDP: not TCP, counted as a fragment.
  auto udp = fragmentOf(v6().ipv6ExtensionHeader(17, {}).build(), 0, 24, true);
  EXPECT_EQ(parse(udp, s), ParseError::kFragment);
  EXPECT_EQ(s.frag_proto, 17);
  EXPECT_FALSE(fragmentMayBeTcp(17));
}

TEST(ParseSegment, EveryIpv6ExtensionHeaderTypeIsWalked) {
  // RFC 8200 §4.3 lengths in 8-byte units (RFC 6275 Mobility, RFC 7401 HIP, RFC 5533 Shim6
  // alike): a 14-byte body makes a 16-byte header, length field 1.
  for (const int type : {0, 43, 60, 135, 139, 140}) {
    Segment s;
    const auto p =
        v6().syn()
            .mss(1460)
            .ipv6ExtensionHeader(static_cast<std::uint8_t>(type), std::vector<std::uint8_t>(14, 0))
            .build();
    ASSERT_EQ(parse(p, s), ParseError::kNone) << type;
    EXPECT_EQ(s.tcp_offset, 56U) << type;
    EXPECT_EQ(s.options.mss, 1460U) << type;
  }
  // RFC 4302 §2.2 counts the Authentication Header in 4-byte units minus 2: 24 bytes is 4,
  // which read as 8-byte units would be 40 bytes.
  Segment s;
  const auto ah = v6().syn().ipv6ExtensionHeader(51, std::vector<std::uint8_t>(22, 0)).build();
  ASSERT_EQ(parse(ah, s), ParseError::kNone);
  EXPECT_EQ(std::to_integer<int>(ah[41]), 4);
  EXPECT_EQ(s.tcp_offset, 64U);
}

TEST(ParseSegment, Ipv6ChainsThatRunOutOfBytes) {
  const auto whole = v6().syn().ipv6ExtensionHeader(60, std::vector<std::uint8_t>(14, 0)).build();
  ParseOptions snapped;
  snapped.wire_length = whole.size();
  // Cut before the length byte, and inside the header's body.
  for (const std::size_t cut : {41, 50}) {
    const std::vector<std::byte> p(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(cut));
    EXPECT_EQ(parse(p, snapped), ParseError::kTruncatedExtensionHeader) << cut;
  }
  // Cut inside a Fragment header (an atomic fragment's).
  const auto atomic = testing::atomicFragmentOf(v6().syn().build());
  snapped.wire_length = atomic.size();
  EXPECT_EQ(parse({atomic.begin(), atomic.begin() + 44}, snapped),
            ParseError::kTruncatedExtensionHeader);
  // The datagram, not only the buffer, ends inside the header: a header length lying about it.
  auto lying = whole;
  lying[41] = std::byte{4};  // 40 bytes, 36 in the datagram
  EXPECT_EQ(parse(lying), ParseError::kTruncatedExtensionHeader);
  // In a first fragment, a header split by the fragment end is a tiny fragment (RFC 7112).
  EXPECT_EQ(parse(fragmentOf(whole, 0, 8, true)), ParseError::kTinyFragment);
}

TEST(ParseSegment, EightIpv6ExtensionHeadersAreFollowedAndANinthOfAnyKindIsTooMany) {
  auto eight = v6().syn();
  for (int i = 0; i < 8; ++i) {
    eight.ipv6ExtensionHeader(60, {1, 4, 0, 0, 0, 0});
  }
  Segment s;
  ASSERT_EQ(parse(eight.build(), s), ParseError::kNone);
  EXPECT_EQ(s.tcp_offset, 40U + 8 * 8);
  // A ninth header is not looked at, even when it is no extension header.
  EXPECT_EQ(parse(eight.ipv6ExtensionHeader(17, {}).build()), ParseError::kTooManyExtensionHeaders);
  auto seven = v6().syn();
  for (int i = 0; i < 7; ++i) {
    seven.ipv6ExtensionHeader(60, {1, 4, 0, 0, 0, 0});
  }
  EXPECT_EQ(parse(seven.ipv6ExtensionHeader(17, {}).build()), ParseError::kNotTcp);
}

TEST(ParseSegment, SnaplenTruncatedPayloadKeepsTheWireLength) {
  auto p = v4().ack(1).payload(1000).build();
  p.resize(60);  // a 60-byte snaplen cut the payload
  ParseOptions o;
  o.wire_length = 1040;
  Segment s;
  ASSERT_EQ(parse(p, s, o), ParseError::kNone);
  EXPECT_EQ(s.payload_len, 1000U);
  o.verify_checksum = true;  // cannot be verified on a cut packet: skipped, not failed
  EXPECT_EQ(parse(p, s, o), ParseError::kNone);
}

TEST(ParseSegment, ZeroIpLengthFromTsoCapturesOnlyWhenAllowed) {
  auto p = v4().ack(1).payload(10).ipTotalLengthOverride(0).build();
  EXPECT_EQ(parse(p), ParseError::kTotalLengthMismatch);
  ParseOptions o;
  o.allow_zero_ip_length = true;
  Segment s;
  ASSERT_EQ(parse(p, s, o), ParseError::kNone);
  EXPECT_EQ(s.payload_len, 10U);
}

TEST(ParseSegment, EthernetPaddingAfterTotalLengthIsIgnored) {
  auto p = v4().rst().seq(5).build();  // 40 bytes; Ethernet pads to 46
  p.resize(46);
  Segment s;
  ASSERT_EQ(parse(p, s), ParseError::kNone);
  EXPECT_EQ(s.payload_len, 0U);
}

TEST(ParseSegment, NeverReadsOutOfBoundsOnRandomMutations) {
  std::mt19937 rng(7);
  const std::vector<std::vector<std::byte>> seeds = {
      v4().syn().mss(1460).sackPermitted().timestamps(1, 2).wscale(7).build(),
      v6().ack(1).sack({{1, 2}, {3, 4}}).payload(20).build(),
      v6().syn().ipv6ExtensionHeader(0, {1, 4, 0, 0, 0, 0}).build()};
  std::size_t ok = 0;
  for (int iter = 0; iter < 200000; ++iter) {
    auto p = seeds[static_cast<std::size_t>(iter) % seeds.size()];
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      p[rng() % p.size()] = std::byte(static_cast<std::uint8_t>(rng()));
    }
    p.resize(rng() % (p.size() + 1));
    ParseOptions o;
    o.verify_checksum = (iter & 1) != 0;
    o.wire_length = (iter & 2) != 0 ? p.size() + rng() % 100 : 0;
    Segment s;
    ok += parseSegment(p, s, o) == ParseError::kNone ? 1 : 0;
  }
  EXPECT_GT(ok, 0U);  // some mutations still parse
}

TEST(Checksum, IncrementalUpdatesEqualFullRecomputes) {
  std::mt19937 rng(11);
  for (int i = 0; i < 20000; ++i) {
    auto p = v4().ack(static_cast<std::uint32_t>(rng()))
                 .seq(static_cast<std::uint32_t>(rng()))
                 .payload(rng() % 64)
                 .build();
    const std::size_t csum_at = 20 + 16;
    const auto old_csum = static_cast<std::uint16_t>((std::to_integer<unsigned>(p[csum_at]) << 8) |
                                                     std::to_integer<unsigned>(p[csum_at + 1]));
    // Rewrite the sequence number (32 bits) and the window (16 bits).
    const auto old_seq = (std::to_integer<std::uint32_t>(p[24]) << 24) |
                         (std::to_integer<std::uint32_t>(p[25]) << 16) |
                         (std::to_integer<std::uint32_t>(p[26]) << 8) |
                         std::to_integer<std::uint32_t>(p[27]);
    const auto new_seq = static_cast<std::uint32_t>(rng());
    for (int b = 0; b < 4; ++b) {
      p[24 + static_cast<std::size_t>(b)] =
          std::byte(static_cast<std::uint8_t>(new_seq >> (24 - 8 * b)));
    }
    const auto old_win = static_cast<std::uint16_t>((std::to_integer<unsigned>(p[34]) << 8) |
                                                    std::to_integer<unsigned>(p[35]));
    const auto new_win = static_cast<std::uint16_t>(rng());
    p[34] = std::byte(static_cast<std::uint8_t>(new_win >> 8));
    p[35] = std::byte(static_cast<std::uint8_t>(new_win & 0xff));
    std::uint16_t inc = checksumUpdate32(old_csum, old_seq, new_seq);
    inc = checksumUpdate16(inc, old_win, new_win);
    p[csum_at] = std::byte(static_cast<std::uint8_t>(inc >> 8));
    p[csum_at + 1] = std::byte(static_cast<std::uint8_t>(inc & 0xff));
    ASSERT_EQ(tcpChecksum(p, 20, p.size() - 20), 0) << "iteration " << i;
  }
}

TEST(Checksum, Rfc1071Example) {
  // RFC 1071 §3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2 (before complement).
  const std::vector<std::byte> d = {std::byte{0x00}, std::byte{0x01}, std::byte{0xf2},
                                    std::byte{0x03}, std::byte{0xf4}, std::byte{0xf5},
                                    std::byte{0xf6}, std::byte{0xf7}};
  EXPECT_EQ(internetChecksum(d), static_cast<std::uint16_t>(~0xddf2 & 0xffff));
}

}  // namespace
}  // namespace synguard::engine
