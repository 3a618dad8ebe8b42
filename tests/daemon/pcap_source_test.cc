#include "daemon/replay/pcap_source.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/packet_builder.h"
#include "tests/support/pcap_writer.h"

namespace synguard::replay {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::PacketBuilder;
using testing::PcapngWriter;
using testing::PcapWriter;

using Bytes = std::vector<std::byte>;

constexpr std::int64_t kT0 = 1'700'000'000'000'000'000;  // 2023-11-14T22:13:20Z in ns

Bytes syn4(std::uint16_t sport = 40000) {
  return PacketBuilder::ipv4("192.0.2.10", "198.51.100.1").tcp(sport, 80).syn().seq(1).build();
}
Bytes syn6(std::uint16_t sport = 40000) {
  return PacketBuilder::ipv6("2001:db8::10", "2001:db8::1").tcp(sport, 80).syn().seq(1).build();
}
Bytes data4(std::size_t n) {
  return PacketBuilder::ipv4("192.0.2.10", "198.51.100.1")
      .tcp(40000, 80)
      .seq(2)
      .ack(1)
      .payload(n)
      .build();
}

/// What a source delivered, record by record.
struct Read {
  std::vector<Bytes> ips;
  std::vector<std::size_t> wire;
  std::vector<std::int64_t> ts;
  std::vector<std::uint64_t> index;
  PcapSource::Next last = PcapSource::Next::kPacket;
  int skipped = 0;
};

Read readAll(PcapSource& src) {
  Read r;
  CapturedPacket p;
  for (;;) {
    const PcapSource::Next n = src.next(p);
    if (n == PcapSource::Next::kPacket) {
      r.ips.emplace_back(p.ip.begin(), p.ip.end());
      r.wire.push_back(p.ip_wire_length);
      r.ts.push_back(p.ts.since_epoch.count());
      r.index.push_back(p.index);
    } else if (n == PcapSource::Next::kSkipped) {
      ++r.skipped;
    } else {
      r.last = n;
      return r;
    }
  }
}

class PcapSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("synguard-pcap-source-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& n) const { return (dir_ / n).string(); }

  static PcapSource openOk(const std::string& file) {
    auto src = PcapSource::open(file);
    if (!src) {
      ADD_FAILURE() << src.error().message;
      std::abort();
    }
    return std::move(src).value();
  }

  fs::path dir_;
};

TEST_F(PcapSourceTest, EveryLinkTypeRoundTrips) {
  using Wrap = std::function<Bytes(const Bytes&)>;
  struct Case {
    const char* name;
    int dlt;
    Wrap wrap;
  };
  const std::vector<Case> cases = {
      {"ethernet", DLT_EN10MB, [](const Bytes& ip) { return testing::ethernet(ip); }},
      {"802.1Q", DLT_EN10MB, [](const Bytes& ip) { return testing::ethernet(ip, {0x8100}); }},
      {"802.1Q x2", DLT_EN10MB,
       [](const Bytes& ip) {
         return testing::ethernet(ip, {0x8100, 0x8100});
       }},
      {"802.1ad+802.1Q", DLT_EN10MB,
       [](const Bytes& ip) {
         return testing::ethernet(ip, {0x88a8, 0x8100});
       }},
      {"sll", DLT_LINUX_SLL, testing::linuxSll},
      {"sll2", DLT_LINUX_SLL2, testing::linuxSll2},
      {"raw", DLT_RAW, [](const Bytes& ip) { return ip; }},
      {"ipv4", DLT_IPV4, [](const Bytes& ip) { return ip; }},
      {"ipv6", DLT_IPV6, [](const Bytes& ip) { return ip; }},
      {"null host order", DLT_NULL, [](const Bytes& ip) { return testing::bsdNull(ip, false); }},
      {"null network order", DLT_NULL,
       [](const Bytes& ip) { return testing::bsdNull(ip, true, 24); }},
      {"loop", DLT_LOOP, [](const Bytes& ip) { return testing::bsdNull(ip, true, 28); }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string file = path("link.pcap");
    const bool v4_only = c.dlt == DLT_IPV4;
    const bool v6_only = c.dlt == DLT_IPV6;
    std::vector<Bytes> sent;
    {
      PcapWriter w(file, c.dlt);
      for (std::uint16_t i = 0; i < 4; ++i) {
        const bool v6 = v6_only || (!v4_only && i % 2 == 1);
        sent.push_back(v6 ? syn6(static_cast<std::uint16_t>(40000 + i))
                          : syn4(static_cast<std::uint16_t>(40000 + i)));
        w.add(c.wrap(sent.back()), kT0 + std::int64_t{i} * 1000);
      }
      if (c.dlt == DLT_EN10MB) {
        w.add(testing::ethernetArp(), kT0 + 5000);
      }
    }
    PcapSource src = openOk(file);
    EXPECT_TRUE(src.linkSupported());
    EXPECT_EQ(src.linkType(), c.dlt);
    EXPECT_FALSE(src.isPcapng());
    const Read r = readAll(src);
    EXPECT_EQ(r.last, PcapSource::Next::kEnd) << src.error();
    EXPECT_EQ(r.ips, sent);
    EXPECT_EQ(r.index, (std::vector<std::uint64_t>{1, 2, 3, 4}));
    EXPECT_EQ(r.ts, (std::vector<std::int64_t>{kT0, kT0 + 1000, kT0 + 2000, kT0 + 3000}));
    const PcapStats& s = src.stats();
    const std::uint64_t frames = c.dlt == DLT_EN10MB ? 5 : 4;
    EXPECT_EQ(s.frames, frames);
    EXPECT_EQ(s.ip_packets, 4U);
    EXPECT_EQ(s.skipped_not_ip, frames - 4);
    EXPECT_EQ(s.skipped_truncated_link, 0U);
    EXPECT_EQ(r.skipped, static_cast<int>(frames - 4));
  }
}

TEST_F(PcapSourceTest, RawLinkTypeIsLibpcapsDltRaw) {
  // pcap_dump writes LINKTYPE_RAW (101) for DLT_RAW; reading maps it back to this platform's
  // DLT_RAW, which is what linkType() reports.
  const std::string file = path("raw.pcap");
  {
    PcapWriter w(file, DLT_RAW);
    w.add(syn4(), kT0);
  }
  std::ifstream in(file, std::ios::binary);
  std::vector<char> hdr(24);
  in.read(hdr.data(), 24);
  EXPECT_EQ(static_cast<unsigned char>(hdr[20]), 101U);  // little-endian host
  PcapSource src = openOk(file);
  EXPECT_EQ(src.linkType(), DLT_RAW);
  EXPECT_EQ(src.linkName(), "RAW");
}

TEST_F(PcapSourceTest, SnaplenCutPacketsKeepTheirWireLength) {
  const std::string file = path("snap.pcap");
  const Bytes big = data4(1000);
  const Bytes small = syn4();
  {
    PcapWriter w(file, DLT_EN10MB, false, 96);
    Bytes f = testing::ethernet(big, {0x8100});
    const std::size_t wire = f.size();
    f.resize(96);
    w.add(f, kT0, wire);
    w.add(testing::ethernet(small), kT0 + 1000);
  }
  PcapSource src = openOk(file);
  const Read r = readAll(src);
  ASSERT_EQ(r.ips.size(), 2U);
  EXPECT_EQ(r.ips[0], Bytes(big.begin(), big.begin() + (96 - 18)));
  EXPECT_EQ(r.wire[0], big.size());
  EXPECT_GT(r.wire[0], r.ips[0].size());
  EXPECT_EQ(r.ips[1], small);
  EXPECT_EQ(r.wire[1], small.size());
  EXPECT_EQ(src.stats().bytes, big.size() + 18 + small.size() + 14);
}

TEST_F(PcapSourceTest, NanosecondAndMicrosecondTimestampsAreExact) {
  // The last one is in 2096: past 2038, where a signed 32-bit seconds field would wrap.
  const std::vector<std::int64_t> ts = {kT0 + 123'456'789, kT0 + 999'999'999, 1, 0,
                                        4'000'000'000LL * 1'000'000'000 + 7'000};
  for (const bool nano : {true, false}) {
    SCOPED_TRACE(nano ? "nano" : "micro");
    const std::string file = path("ts.pcap");
    {
      PcapWriter w(file, DLT_RAW, nano);
      for (const std::int64_t t : ts) {
        w.add(syn4(), t);
      }
    }
    PcapSource src = openOk(file);
    const Read r = readAll(src);
    ASSERT_EQ(r.ts.size(), ts.size());
    for (std::size_t i = 0; i < ts.size(); ++i) {
      EXPECT_EQ(r.ts[i], nano ? ts[i] : ts[i] / 1000 * 1000) << i;
    }
  }
}

TEST_F(PcapSourceTest, ArpIsSkippedAndCounted) {
  const std::string file = path("arp.pcap");
  {
    PcapWriter w(file, DLT_EN10MB);
    w.add(testing::ethernetArp(), kT0);
    w.add(testing::ethernetType(0x88cc, Bytes(40)), kT0 + 1);  // LLDP
    w.add(testing::ethernet(syn4(), {0x8100}), kT0 + 2);
  }
  PcapSource src = openOk(file);
  CapturedPacket p;
  EXPECT_EQ(src.next(p), PcapSource::Next::kSkipped);
  EXPECT_EQ(p.index, 1U);
  EXPECT_TRUE(p.ip.empty());
  EXPECT_EQ(src.next(p), PcapSource::Next::kSkipped);
  ASSERT_EQ(src.next(p), PcapSource::Next::kPacket);
  EXPECT_EQ(p.index, 3U);
  EXPECT_EQ(Bytes(p.ip.begin(), p.ip.end()), syn4());
  EXPECT_EQ(src.next(p), PcapSource::Next::kEnd);
  EXPECT_EQ(src.stats().skipped_not_ip, 2U);
  EXPECT_EQ(src.stats().ip_packets, 1U);
}

TEST_F(PcapSourceTest, ZeroLengthAndLinkTruncatedFramesAreSkippedAndCounted) {
  const std::string file = path("short.pcap");
  {
    PcapWriter w(file, DLT_EN10MB);
    w.add({}, kT0, 60);                              // caplen 0
    w.add(Bytes(10, std::byte{0x02}), kT0 + 1, 60);  // cut inside the Ethernet header
    w.add(testing::ethernet(syn4()), kT0 + 2);
  }
  PcapSource src = openOk(file);
  const Read r = readAll(src);
  EXPECT_EQ(r.last, PcapSource::Next::kEnd);
  EXPECT_EQ(r.skipped, 2);
  EXPECT_EQ(r.ips, std::vector<Bytes>{syn4()});
  EXPECT_EQ(src.stats().skipped_truncated_link, 2U);
  EXPECT_EQ(src.stats().frames, 3U);
}

TEST_F(PcapSourceTest, FileCutInTheLastRecordDeliversEarlierPacketsThenNamesTheOffset) {
  const std::string file = path("cut.pcap");
  std::vector<Bytes> frames;
  {
    PcapWriter w(file, DLT_EN10MB);
    for (std::uint16_t i = 0; i < 3; ++i) {
      frames.push_back(testing::ethernet(syn4(static_cast<std::uint16_t>(40000 + i))));
      w.add(frames.back(), kT0 + i);
    }
  }
  const std::uintmax_t full = fs::file_size(file);
  const std::size_t third = 24 + 2 * 16 + frames[0].size() + frames[1].size();
  ASSERT_EQ(full, third + 16 + frames[2].size());

  for (const std::uintmax_t keep : {full - 10, third + 16, third + 8}) {
    SCOPED_TRACE(keep);
    fs::resize_file(file, keep);
    PcapSource src = openOk(file);
    const Read r = readAll(src);
    EXPECT_EQ(r.ips.size(), 2U);
    ASSERT_EQ(r.last, PcapSource::Next::kError);
    EXPECT_THAT(src.error(), HasSubstr(file + ": damaged at packet record 3, byte offset " +
                                       std::to_string(third) + ": truncated dump file"));
    CapturedPacket p;
    EXPECT_EQ(src.next(p), PcapSource::Next::kError);  // sticky
    EXPECT_EQ(src.stats().ip_packets, 2U);
  }
  // Cut exactly between records: a clean, shorter file.
  fs::resize_file(file, third);
  PcapSource src = openOk(file);
  EXPECT_EQ(readAll(src).last, PcapSource::Next::kEnd);
  CapturedPacket p;
  EXPECT_EQ(src.next(p), PcapSource::Next::kEnd);  // sticky
}

TEST_F(PcapSourceTest, OffsetsStayRightWhenLibpcapCutsRecordsLongerThanTheSnaplen) {
  // The header says snaplen 60 but the records hold more: libpcap hands out 60 bytes and
  // skips the rest, so the byte offset cannot be computed from the caplen it reports.
  const std::string file = path("oversnap.pcap");
  const Bytes big = testing::ethernet(data4(200));
  {
    PcapWriter w(file, DLT_EN10MB, false, 60);
    w.add(testing::ethernet(syn4()), kT0);
    w.add(big, kT0 + 1);
    w.add(big, kT0 + 2);
    w.add(big, kT0 + 3);
  }
  const std::size_t fourth = 24 + 16 + testing::ethernet(syn4()).size() + 2 * (16 + big.size());
  fs::resize_file(file, fs::file_size(file) - 5);
  PcapSource src = openOk(file);
  const Read r = readAll(src);
  ASSERT_EQ(r.ips.size(), 3U);
  EXPECT_EQ(r.ips[1].size(), 60U - 14U);
  EXPECT_EQ(r.wire[1], big.size() - 14);
  ASSERT_EQ(r.last, PcapSource::Next::kError);
  EXPECT_THAT(src.error(), HasSubstr("packet record 4, byte offset " + std::to_string(fourth)));
}

TEST_F(PcapSourceTest, AnAbsurdCaplenIsAnErrorAfterTheGoodRecords) {
  const std::string file = path("absurd.pcap");
  const Bytes f = testing::ethernet(syn4());
  {
    PcapWriter w(file, DLT_EN10MB);
    w.add(f, kT0);
    w.add(f, kT0 + 1);
  }
  // Record 2's caplen (offset 8 in its header) becomes 1 MiB.
  const std::size_t second = 24 + 16 + f.size();
  {
    std::fstream io(file, std::ios::binary | std::ios::in | std::ios::out);
    io.seekp(static_cast<std::streamoff>(second + 8));
    const std::uint32_t caplen = 1U << 20;
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): host-order file
    io.write(reinterpret_cast<const char*>(&caplen), 4);
  }
  PcapSource src = openOk(file);
  const Read r = readAll(src);
  EXPECT_EQ(r.ips.size(), 1U);
  ASSERT_EQ(r.last, PcapSource::Next::kError);
  EXPECT_THAT(src.error(), HasSubstr("packet record 2, byte offset " + std::to_string(second)));
  EXPECT_THAT(src.error(), HasSubstr("invalid packet capture length"));
}

TEST_F(PcapSourceTest, NotACaptureFailsToOpenNamingTheFile) {
  const std::string file = path("notes.txt");
  std::ofstream(file) << "this is a text file, long enough to hold a pcap header\n";
  const auto src = PcapSource::open(file);
  ASSERT_FALSE(src.has_value());
  EXPECT_THAT(src.error().message, HasSubstr(file + ": "));
  EXPECT_THAT(src.error().message, HasSubstr("unknown file format"));
}

TEST_F(PcapSourceTest, EmptyAndMissingFilesFailToOpenNamingTheFile) {
  const std::string empty = path("empty.pcap");
  std::ofstream created(empty);
  created.close();
  const auto e = PcapSource::open(empty);
  ASSERT_FALSE(e.has_value());
  EXPECT_THAT(e.error().message, HasSubstr(empty + ": "));
  EXPECT_THAT(e.error().message, HasSubstr("empty file"));

  const std::string missing = path("missing.pcap");
  const auto m = PcapSource::open(missing);
  ASSERT_FALSE(m.has_value());
  EXPECT_EQ(m.error().message,
            missing + ": cannot read as a pcap/pcapng capture: No such file or directory");
}

TEST_F(PcapSourceTest, AHeaderOnlyFileHasNoPackets) {
  const std::string file = path("header-only.pcap");
  { PcapWriter w(file, DLT_EN10MB); }
  PcapSource src = openOk(file);
  const Read r = readAll(src);
  EXPECT_EQ(r.last, PcapSource::Next::kEnd);
  EXPECT_TRUE(r.ips.empty());
  EXPECT_EQ(src.stats().frames, 0U);
}

TEST_F(PcapSourceTest, UnsupportedLinkTypeOpensButSaysSo) {
  const std::string file = path("ppp.pcap");
  {
    PcapWriter w(file, DLT_PPP);
    w.add(syn4(), kT0);
  }
  PcapSource src = openOk(file);
  EXPECT_FALSE(src.linkSupported());
  EXPECT_EQ(src.linkType(), DLT_PPP);
  EXPECT_EQ(src.linkName(), "PPP");
  CapturedPacket p;
  EXPECT_EQ(src.next(p), PcapSource::Next::kSkipped);
}

TEST_F(PcapSourceTest, PcapngWithNanoAndMicroResolution) {
  for (const bool nano : {true, false}) {
    SCOPED_TRACE(nano ? "nano" : "micro");
    const std::string file = path("capture.pcapng");
    const Bytes big = data4(500);
    {
      PcapngWriter w(file, 1 /* LINKTYPE_ETHERNET */, nano);
      w.add(testing::ethernet(syn4()), kT0 + 123'456'789);
      w.add(testing::ethernetArp(), kT0 + 200'000'000);
      w.add(testing::ethernet(syn6(), {0x88a8, 0x8100}), kT0 + 300'000'001);
      Bytes f = testing::ethernet(big);
      const std::size_t wire = f.size();
      f.resize(100);
      w.add(f, kT0 + 400'000'000, wire);
    }
    PcapSource src = openOk(file);
    EXPECT_TRUE(src.isPcapng());
    EXPECT_EQ(src.linkType(), DLT_EN10MB);
    const Read r = readAll(src);
    EXPECT_EQ(r.last, PcapSource::Next::kEnd) << src.error();
    ASSERT_EQ(r.ips.size(), 3U);
    EXPECT_EQ(r.ips[0], syn4());
    EXPECT_EQ(r.ips[1], syn6());
    EXPECT_EQ(r.ips[2].size(), 86U);
    EXPECT_EQ(r.wire[2], big.size());
    EXPECT_EQ(r.index, (std::vector<std::uint64_t>{1, 3, 4}));
    if (nano) {
      EXPECT_EQ(r.ts, (std::vector<std::int64_t>{kT0 + 123'456'789, kT0 + 300'000'001,
                                                 kT0 + 400'000'000}));
    } else {
      EXPECT_EQ(r.ts, (std::vector<std::int64_t>{kT0 + 123'456'000, kT0 + 300'000'000,
                                                 kT0 + 400'000'000}));
    }
    EXPECT_EQ(src.stats().skipped_not_ip, 1U);
  }
}

TEST_F(PcapSourceTest, PcapngCutInTheLastBlockNamesTheRecord) {
  const std::string file = path("cut.pcapng");
  {
    PcapngWriter w(file, 113 /* LINKTYPE_LINUX_SLL */, true);
    w.add(testing::linuxSll(syn6()), kT0);
    w.add(testing::linuxSll(syn4()), kT0 + 1);
  }
  fs::resize_file(file, fs::file_size(file) - 6);
  PcapSource src = openOk(file);
  EXPECT_EQ(src.linkType(), DLT_LINUX_SLL);
  const Read r = readAll(src);
  EXPECT_EQ(r.ips, std::vector<Bytes>{syn6()});
  ASSERT_EQ(r.last, PcapSource::Next::kError);
  EXPECT_THAT(src.error(), HasSubstr(file + ": damaged at packet record 2"));
  EXPECT_THAT(src.error(), HasSubstr("truncated"));
}

TEST_F(PcapSourceTest, AMovedSourceKeepsReading) {
  const std::string file = path("move.pcap");
  {
    PcapWriter w(file, DLT_LINUX_SLL2);
    w.add(testing::linuxSll2(syn6()), kT0);
    w.add(testing::linuxSll2(syn4()), kT0 + 1);
  }
  PcapSource a = openOk(file);
  CapturedPacket p;
  ASSERT_EQ(a.next(p), PcapSource::Next::kPacket);
  PcapSource b = std::move(a);
  ASSERT_EQ(b.next(p), PcapSource::Next::kPacket);
  EXPECT_EQ(Bytes(p.ip.begin(), p.ip.end()), syn4());
  EXPECT_EQ(p.index, 2U);
  EXPECT_EQ(b.next(p), PcapSource::Next::kEnd);
  a = std::move(b);
  EXPECT_EQ(a.stats().ip_packets, 2U);
}

}  // namespace
}  // namespace synguard::replay
