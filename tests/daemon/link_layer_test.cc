#include "daemon/replay/link_layer.h"

#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "tests/support/packet_builder.h"
#include "tests/support/pcap_writer.h"

namespace synguard::replay {
namespace {

using testing::PacketBuilder;

std::vector<std::byte> syn4() {
  return PacketBuilder::ipv4("192.0.2.10", "198.51.100.1").tcp(40000, 80).syn().seq(1).build();
}
std::vector<std::byte> syn6() {
  return PacketBuilder::ipv6("2001:db8::10", "2001:db8::1").tcp(40000, 80).syn().seq(1).build();
}

// Checks that decodeLink found `ip` at `header` bytes into `frame`, as a view into the frame.
void expectIpAt(int dlt, const std::vector<std::byte>& frame, std::size_t header,
                const std::vector<std::byte>& ip) {
  const LinkDecode d = decodeLink(dlt, frame, frame.size());
  ASSERT_EQ(d.result, LinkResult::kIp) << linkTypeName(dlt);
  EXPECT_EQ(d.ip.data(), std::span(frame).subspan(header).data()) << linkTypeName(dlt);
  EXPECT_EQ(std::vector<std::byte>(d.ip.begin(), d.ip.end()), ip) << linkTypeName(dlt);
  EXPECT_EQ(d.ip_wire_length, ip.size()) << linkTypeName(dlt);
}

TEST(LinkLayerTest, EthernetCarriesIpv4AndIpv6) {
  expectIpAt(DLT_EN10MB, testing::ethernet(syn4()), 14, syn4());
  expectIpAt(DLT_EN10MB, testing::ethernet(syn6()), 14, syn6());
}

TEST(LinkLayerTest, EthernetWalksVlanStacks) {
  struct Case {
    const char* name;
    std::vector<std::uint16_t> tpids;
  };
  const std::vector<Case> cases = {
      {"802.1Q", {0x8100}},
      {"802.1Q x2", {0x8100, 0x8100}},
      {"802.1ad + 802.1Q", {0x88a8, 0x8100}},
      {"0x9100 + 802.1Q", {0x9100, 0x8100}},
      {"four tags (the bound)", {0x88a8, 0x8100, 0x8100, 0x8100}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    expectIpAt(DLT_EN10MB, testing::ethernet(syn4(), c.tpids), 14 + 4 * c.tpids.size(), syn4());
    expectIpAt(DLT_EN10MB, testing::ethernet(syn6(), c.tpids), 14 + 4 * c.tpids.size(), syn6());
  }
}

TEST(LinkLayerTest, MoreVlanTagsThanTheBoundAreNotIp) {
  const auto f = testing::ethernet(syn4(), std::vector<std::uint16_t>(kMaxVlanTags + 1, 0x8100));
  EXPECT_EQ(decodeLink(DLT_EN10MB, f, f.size()).result, LinkResult::kNotIp);
}

TEST(LinkLayerTest, NonIpEthertypesAreNotIp) {
  const std::vector<std::byte> payload(46, std::byte{0});
  // ARP, LLDP, MPLS, PPPoE discovery and session, 802.1ah (PBB), an 802.3 length field.
  for (const std::uint16_t type : std::initializer_list<std::uint16_t>{
           0x0806, 0x88cc, 0x8847, 0x8863, 0x8864, 0x88e7, 0x0042}) {
    const auto f = testing::ethernetType(type, payload);
    const LinkDecode d = decodeLink(DLT_EN10MB, f, f.size());
    EXPECT_EQ(d.result, LinkResult::kNotIp) << std::hex << type;
    EXPECT_TRUE(d.ip.empty());
  }
  const auto arp = testing::ethernetArp();
  EXPECT_EQ(decodeLink(DLT_EN10MB, arp, arp.size()).result, LinkResult::kNotIp);
  // A VLAN-tagged ARP is still ARP.
  auto tagged = testing::ethernet(syn4(), {0x8100});
  tagged[16] = std::byte{0x08};
  tagged[17] = std::byte{0x06};
  EXPECT_EQ(decodeLink(DLT_EN10MB, tagged, tagged.size()).result, LinkResult::kNotIp);
}

TEST(LinkLayerTest, FramesCutInsideTheLinkHeaderAreTruncated) {
  const auto eth = testing::ethernet(syn4(), {0x88a8, 0x8100});
  for (const std::size_t cut : {0, 1, 13, 15, 17, 19, 21}) {
    const std::span<const std::byte> f(eth.data(), cut);
    EXPECT_EQ(decodeLink(DLT_EN10MB, f, eth.size()).result, LinkResult::kTruncated) << cut;
  }
  const auto sll = testing::linuxSll(syn4());
  EXPECT_EQ(decodeLink(DLT_LINUX_SLL, std::span(sll.data(), 15), sll.size()).result,
            LinkResult::kTruncated);
  const auto sll2 = testing::linuxSll2(syn4());
  EXPECT_EQ(decodeLink(DLT_LINUX_SLL2, std::span(sll2.data(), 19), sll2.size()).result,
            LinkResult::kTruncated);
  const auto null = testing::bsdNull(syn4(), false);
  EXPECT_EQ(decodeLink(DLT_NULL, std::span(null.data(), 3), null.size()).result,
            LinkResult::kTruncated);
  EXPECT_EQ(decodeLink(DLT_RAW, std::span<const std::byte>(), 40).result, LinkResult::kTruncated);
}

TEST(LinkLayerTest, AFrameEndingRightAfterItsHeaderIsAnEmptyIpPacket) {
  // The header is whole, so this is an IP packet cut to nothing by the snaplen: the engine sees
  // and counts it as a truncated datagram.
  const auto eth = testing::ethernet(syn4());
  const LinkDecode d = decodeLink(DLT_EN10MB, std::span(eth.data(), 14), eth.size());
  ASSERT_EQ(d.result, LinkResult::kIp);
  EXPECT_TRUE(d.ip.empty());
  EXPECT_EQ(d.ip_wire_length, syn4().size());
}

TEST(LinkLayerTest, SnappedFramesKeepTheirWireLength) {
  const auto ip = PacketBuilder::ipv4("192.0.2.10", "198.51.100.1")
                      .tcp(40000, 80)
                      .seq(1)
                      .ack(1)
                      .payload(1000)
                      .build();
  const auto eth = testing::ethernet(ip, {0x8100});
  const LinkDecode d = decodeLink(DLT_EN10MB, std::span(eth.data(), 96), eth.size());
  ASSERT_EQ(d.result, LinkResult::kIp);
  EXPECT_EQ(d.ip.size(), 96U - 18U);
  EXPECT_EQ(d.ip_wire_length, ip.size());
  EXPECT_GT(d.ip_wire_length, d.ip.size());
}

TEST(LinkLayerTest, AWireLengthBelowTheCapturedLengthIsRaisedToIt) {
  const auto eth = testing::ethernet(syn4());
  const LinkDecode d = decodeLink(DLT_EN10MB, eth, 10);
  ASSERT_EQ(d.result, LinkResult::kIp);
  EXPECT_EQ(d.ip_wire_length, d.ip.size());
}

TEST(LinkLayerTest, LinuxCookedV1AndV2) {
  expectIpAt(DLT_LINUX_SLL, testing::linuxSll(syn4()), 16, syn4());
  expectIpAt(DLT_LINUX_SLL, testing::linuxSll(syn6()), 16, syn6());
  expectIpAt(DLT_LINUX_SLL2, testing::linuxSll2(syn4()), 20, syn4());
  expectIpAt(DLT_LINUX_SLL2, testing::linuxSll2(syn6()), 20, syn6());

  auto arp = testing::linuxSll(syn4());
  arp[14] = std::byte{0x08};
  arp[15] = std::byte{0x06};
  EXPECT_EQ(decodeLink(DLT_LINUX_SLL, arp, arp.size()).result, LinkResult::kNotIp);
  auto arp2 = testing::linuxSll2(syn4());
  arp2[0] = std::byte{0x08};
  arp2[1] = std::byte{0x06};
  EXPECT_EQ(decodeLink(DLT_LINUX_SLL2, arp2, arp2.size()).result, LinkResult::kNotIp);
}

TEST(LinkLayerTest, RawIpChecksTheVersionNibble) {
  for (const int dlt : {DLT_RAW, DLT_IPV4, DLT_IPV6}) {
    expectIpAt(dlt, syn4(), 0, syn4());
    expectIpAt(dlt, syn6(), 0, syn6());
    auto bad = syn4();
    bad[0] = std::byte{0x55};
    EXPECT_EQ(decodeLink(dlt, bad, bad.size()).result, LinkResult::kNotIp) << dlt;
  }
}

TEST(LinkLayerTest, BsdLoopbackInEitherByteOrderAndEveryInet6Value) {
  for (const bool network_order : {false, true}) {
    for (const std::uint32_t af6 : {24U, 28U, 30U}) {
      for (const int dlt : {DLT_NULL, DLT_LOOP}) {
        SCOPED_TRACE(std::to_string(dlt) + (network_order ? " network" : " host") + " af6 " +
                     std::to_string(af6));
        expectIpAt(dlt, testing::bsdNull(syn4(), network_order, af6), 4, syn4());
        expectIpAt(dlt, testing::bsdNull(syn6(), network_order, af6), 4, syn6());
      }
    }
  }
}

TEST(LinkLayerTest, BsdLoopbackRejectsOtherFamiliesAndMismatchedVersions) {
  auto f = testing::bsdNull(syn4(), false);
  f[0] = std::byte{17};  // AF_ISO on 4.4BSD
  EXPECT_EQ(decodeLink(DLT_NULL, f, f.size()).result, LinkResult::kNotIp);
  auto v6_as_v4 = testing::bsdNull(syn6(), false);
  v6_as_v4[0] = std::byte{2};
  EXPECT_EQ(decodeLink(DLT_NULL, v6_as_v4, v6_as_v4.size()).result, LinkResult::kNotIp);
  auto header_only = testing::bsdNull(syn4(), true);
  header_only.resize(4);
  EXPECT_EQ(decodeLink(DLT_LOOP, header_only, 44).result, LinkResult::kTruncated);
}

TEST(LinkLayerTest, UnsupportedLinkTypesAreNotIp) {
  const auto f = testing::ethernet(syn4());
  EXPECT_FALSE(linkTypeSupported(DLT_PPP));
  EXPECT_FALSE(linkTypeSupported(DLT_FDDI));
  EXPECT_EQ(decodeLink(DLT_PPP, f, f.size()).result, LinkResult::kNotIp);
  for (const int dlt : {DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW, DLT_IPV4, DLT_IPV6,
                        DLT_NULL, DLT_LOOP}) {
    EXPECT_TRUE(linkTypeSupported(dlt)) << dlt;
  }
}

TEST(LinkLayerTest, NamesComeFromLibpcap) {
  EXPECT_EQ(linkTypeName(DLT_EN10MB), "EN10MB");
  EXPECT_EQ(linkTypeName(DLT_LINUX_SLL), "LINUX_SLL");
  EXPECT_EQ(linkTypeName(DLT_LINUX_SLL2), "LINUX_SLL2");
  EXPECT_EQ(linkTypeName(DLT_NULL), "NULL");
  EXPECT_EQ(linkTypeName(DLT_FDDI), "FDDI");
  EXPECT_EQ(linkTypeName(99999), "DLT_99999");
}

TEST(LinkLayerTest, EveryPrefixOfEveryFrameStaysInBounds) {
  // Each prefix is copied to a buffer of exactly its size, so a read past the captured length
  // is a heap overflow under ASan.
  std::vector<std::pair<int, std::vector<std::byte>>> frames = {
      {DLT_EN10MB, testing::ethernet(syn6(), {0x88a8, 0x8100, 0x9100, 0x8100})},
      {DLT_EN10MB, testing::ethernet(syn4(), std::vector<std::uint16_t>(6, 0x8100))},
      {DLT_LINUX_SLL, testing::linuxSll(syn6())},
      {DLT_LINUX_SLL2, testing::linuxSll2(syn4())},
      {DLT_RAW, syn6()},
      {DLT_IPV4, syn4()},
      {DLT_NULL, testing::bsdNull(syn6(), false)},
      {DLT_LOOP, testing::bsdNull(syn4(), true)},
  };
  for (const auto& [dlt, frame] : frames) {
    for (std::size_t n = 0; n <= frame.size(); ++n) {
      const std::vector<std::byte> cut(frame.begin(),
                                       frame.begin() + static_cast<std::ptrdiff_t>(n));
      const LinkDecode d = decodeLink(dlt, cut, frame.size());
      if (d.result == LinkResult::kIp) {
        // A view starting before `cut` wraps to a huge offset and fails the check too.
        // NOLINTNEXTLINE(cppcoreguidelines-pro-bounds-pointer-arithmetic): the bounds check
        const auto begin = static_cast<std::size_t>(d.ip.data() - cut.data());
        EXPECT_LE(begin + d.ip.size(), cut.size());
        EXPECT_GE(d.ip_wire_length, d.ip.size());
      } else {
        EXPECT_TRUE(d.ip.empty());
      }
    }
  }
}

}  // namespace
}  // namespace synguard::replay
