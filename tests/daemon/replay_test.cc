#include "daemon/replay/replay.h"

#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "daemon/replay/link_layer.h"
#include "daemon/replay/pcap_source.h"
#include "engine/packet/checksum.h"
#include "engine/packet/segment.h"
#include "tests/support/packet_builder.h"
#include "tests/support/pcap_writer.h"

namespace synguard::replay {
namespace {

namespace fs = std::filesystem;
using testing::PacketBuilder;
using testing::PcapWriter;

class ReplayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("synguard-replay-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& n) const { return (dir_ / n).string(); }

  /// A full IPv4 connection: handshake, data both ways, four-way close.
  static std::vector<std::vector<std::byte>> connection(std::uint16_t cport) {
    auto c = [&] { return PacketBuilder::ipv4("192.0.2.10", "198.51.100.1").tcp(cport, 80); };
    auto s = [&] { return PacketBuilder::ipv4("198.51.100.1", "192.0.2.10").tcp(80, cport); };
    return {c().syn().seq(100).build(),
            s().syn().seq(900).ack(101).build(),
            c().seq(101).ack(901).payload(10).build(),
            s().seq(901).ack(111).payload(20).build(),
            c().fin().seq(111).ack(921).build(),
            s().fin().seq(921).ack(112).build(),
            c().seq(112).ack(922).build()};
  }

  struct Run {
    int rc;
    std::string out;
    std::string err;
    std::string log;
  };
  Run replay(std::vector<std::string> files, bool json = true) {
    ReplayOptions o;
    o.captures = std::move(files);
    o.json = json;
    o.conn_log = path("conn.log");
    std::ostringstream out;
    std::ostringstream err;
    Run r{runReplay(o, out, err), out.str(), err.str(), ""};
    std::ifstream in(o.conn_log);
    r.log.assign(std::istreambuf_iterator<char>(in), {});
    return r;
  }

  fs::path dir_;
};

std::int64_t ns(double s) { return static_cast<std::int64_t>(s * 1e9); }

TEST_F(ReplayTest, EveryLinkTypeYieldsTheSameConnection) {
  struct Case {
    const char* name;
    int dlt;
    std::vector<std::byte> (*wrap)(const std::vector<std::byte>&);
  };
  const Case cases[] = {
      {"eth", DLT_EN10MB, [](const std::vector<std::byte>& ip) { return testing::ethernet(ip); }},
      {"vlan", DLT_EN10MB,
       [](const std::vector<std::byte>& ip) { return testing::ethernet(ip, {0x8100}); }},
      {"qinq", DLT_EN10MB,
       [](const std::vector<std::byte>& ip) {
         return testing::ethernet(ip, {0x88a8, 0x8100});
       }},
      {"sll", DLT_LINUX_SLL, testing::linuxSll},
      {"sll2", DLT_LINUX_SLL2, testing::linuxSll2},
      {"raw", DLT_RAW, [](const std::vector<std::byte>& ip) { return ip; }},
      {"null", DLT_NULL,
       [](const std::vector<std::byte>& ip) { return testing::bsdNull(ip, false); }},
      {"loop", DLT_LOOP,
       [](const std::vector<std::byte>& ip) { return testing::bsdNull(ip, true); }},
  };
  for (const Case& c : cases) {
    const std::string file = path(std::string(c.name) + ".pcap");
    {
      PcapWriter w(file, c.dlt, c.dlt == DLT_RAW);
      std::int64_t t = 1700000000'000000000LL;
      if (c.dlt == DLT_EN10MB) {
        w.add(testing::ethernetArp(), t);
      }
      for (const auto& p : connection(40000)) {
        w.add(c.wrap(p), t += 1'000'000);
      }
    }
    const Run r = replay({file});
    EXPECT_EQ(r.rc, 0) << c.name << r.err;
    EXPECT_NE(r.out.find("\"by_outcome\": {\"SF\": 1}"), std::string::npos) << c.name << r.out;
    EXPECT_NE(r.out.find("\"ip_packets\": 7"), std::string::npos) << c.name;
    EXPECT_NE(r.log.find("1700000000.001000\t192.0.2.10\t40000\t198.51.100.1\t80\tSF\tTIME_WAIT"),
              std::string::npos)
        << c.name << r.log;
    if (c.dlt == DLT_EN10MB) {
      EXPECT_NE(r.out.find("\"skipped_not_ip\": 1"), std::string::npos) << c.name;
    }
  }
}

TEST_F(ReplayTest, NanosecondTimestampsAreKept) {
  const std::string file = path("nano.pcap");
  {
    PcapWriter w(file, DLT_RAW, true);
    w.add(PacketBuilder::ipv4("192.0.2.1", "198.51.100.1").tcp(1, 2).syn().build(),
          1700000000'123456789LL);
  }
  auto src = PcapSource::open(file);
  ASSERT_TRUE(src.has_value());
  CapturedPacket p;
  ASSERT_EQ(src->next(p), PcapSource::Next::kPacket);
  EXPECT_EQ(p.ts.since_epoch.count(), 1700000000'123456789LL);
  EXPECT_EQ(src->next(p), PcapSource::Next::kEnd);
}

TEST_F(ReplayTest, SnaplenTruncatedFramesStillTrackTheConnection) {
  const std::string file = path("snap.pcap");
  {
    PcapWriter w(file, DLT_EN10MB, false, 54);
    double t = 1700000000.0;
    for (const auto& p : connection(40001)) {
      auto f = testing::ethernet(p);
      const std::size_t wire = f.size();
      if (f.size() > 54) {
        f.resize(54);
      }
      w.add(f, ns(t += 0.001), wire);
    }
  }
  const Run r = replay({file});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("\"by_outcome\": {\"SF\": 1}"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"snaplen_truncated\": 2"), std::string::npos) << r.out;
}

TEST_F(ReplayTest, CaptureCutMidRecordKeepsWhatCameBefore) {
  const std::string file = path("cut.pcap");
  {
    PcapWriter w(file, DLT_RAW);
    double t = 1700000000.0;
    for (const auto& p : connection(40002)) {
      w.add(p, ns(t += 0.001));
    }
  }
  fs::resize_file(file, fs::file_size(file) - 10);  // the last record loses its tail
  const Run r = replay({file});
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.err.find(file), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("record 7"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("offset"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("\"ip_packets\": 6"), std::string::npos) << r.out;
  // Six packets: both FINs seen, the last ACK lost -> still SF, in LAST_ACK.
  EXPECT_NE(r.log.find("\tSF\tLAST_ACK\t"), std::string::npos) << r.log;
}

TEST_F(ReplayTest, NonCaptureAndMissingFilesAreClearErrors) {
  const std::string text = path("notes.txt");
  std::ofstream(text) << "this is not a capture\n";
  const std::string empty = path("empty.pcap");
  std::ofstream(empty).close();
  for (const std::string& f : {text, empty, path("missing.pcap")}) {
    const Run r = replay({f});
    EXPECT_EQ(r.rc, 2) << f;
    EXPECT_NE(r.err.find(f), std::string::npos) << r.err;
  }
}

TEST_F(ReplayTest, UnsupportedLinkTypeIsReportedAndSkipped) {
  const std::string file = path("ppp.pcap");
  {
    PcapWriter w(file, DLT_PPP);
    w.add(std::vector<std::byte>(60, std::byte{0}), ns(1700000000.0));
  }
  const Run r = replay({file});
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.err.find("not supported"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("\"link_supported\": false"), std::string::npos);
}

TEST_F(ReplayTest, HumanSummaryNamesTheFigures) {
  const std::string file = path("h.pcap");
  {
    PcapWriter w(file, DLT_RAW);
    double t = 1700000000.0;
    for (const auto& p : connection(40003)) {
      w.add(p, ns(t += 0.001));
    }
    w.add(PacketBuilder::ipv4("203.0.113.9", "198.51.100.1").tcp(5555, 80).syn().build(),
          ns(t += 0.001));
  }
  const Run r = replay({file}, false);
  EXPECT_EQ(r.rc, 0);
  for (const char* s : {"packets: 8", "SF 1", "S0 1", "half-open: peak 1", "198.51.100.1:80",
                        "203.0.113.0/24", "TIME_WAIT 1"}) {
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  }
  // Described engine counters the sections above do not show (engine/stats.h).
  EXPECT_NE(r.out.find("other engine counters:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("handshakes_completed"), std::string::npos) << r.out;
  // The JSON report carries every described counter under "engine", by field name.
  const Run j = replay({file}, true);
  const auto engine = j.out.find("\"engine\": {");
  ASSERT_NE(engine, std::string::npos) << j.out;
  for (const char* s : {"\"packets\": 8,", "\"connections_ended\": {", "\"would_cookie\": 0,",
                        "\"translated\": {}", "\"half_open_reaped\": 0}"}) {
    EXPECT_NE(j.out.find(s, engine), std::string::npos) << s << "\n" << j.out;
  }
  EXPECT_EQ(r.log.rfind("#separator", 0), 0U);
  EXPECT_NE(r.log.find("#fields\tts\torig_h\torig_p\tresp_h\tresp_p\tconn_state\tstate"),
            std::string::npos);
}

TEST(LinkLayer, FramesShorterThanTheirHeaderAreTruncated) {
  const std::vector<std::byte> tiny(3);
  EXPECT_EQ(decodeLink(DLT_EN10MB, tiny, 3).result, LinkResult::kTruncated);
  EXPECT_EQ(decodeLink(DLT_LINUX_SLL, tiny, 3).result, LinkResult::kTruncated);
  EXPECT_EQ(decodeLink(DLT_LINUX_SLL2, tiny, 3).result, LinkResult::kTruncated);
  EXPECT_EQ(decodeLink(DLT_NULL, tiny, 3).result, LinkResult::kTruncated);
  EXPECT_EQ(decodeLink(DLT_RAW, {}, 0).result, LinkResult::kTruncated);
  // Too many VLAN tags: not something we decode.
  const auto ip = PacketBuilder::ipv4("192.0.2.1", "192.0.2.2").tcp(1, 2).syn().build();
  const auto deep = testing::ethernet(ip, {0x8100, 0x8100, 0x8100, 0x8100, 0x8100});
  EXPECT_EQ(decodeLink(DLT_EN10MB, deep, deep.size()).result, LinkResult::kNotIp);
}

}  // namespace
}  // namespace synguard::replay

namespace synguard::replay {
namespace {

// The builder's output is pinned to a real Linux SYN: the first packet of a recorded capture
// (tests/data/handshake_and_close.pcap, Linux 6.x in a namespace lab), rebuilt from its parsed
// fields, must come out byte for byte.
TEST(PacketBuilderPinned, ReproducesARealLinuxSyn) {
  const char* src_dir = std::getenv("SYNGUARD_SOURCE_DIR");
  const fs::path file = (src_dir != nullptr ? fs::path(src_dir) : fs::current_path()) /
                        "tests/data/handshake_and_close.pcap";
  auto pcap = PcapSource::open(file.string());
  ASSERT_TRUE(pcap.has_value()) << pcap.error().message;
  CapturedPacket p;
  ASSERT_EQ(pcap->next(p), PcapSource::Next::kPacket);
  const std::vector<std::byte> real(p.ip.begin(), p.ip.end());
  engine::Segment s;
  ASSERT_EQ(engine::parseSegment(real, s), engine::ParseError::kNone);
  ASSERT_TRUE(s.has(engine::kSyn));
  ASSERT_TRUE(s.options.has_mss && s.options.sack_permitted && s.options.has_timestamps &&
              s.options.has_wscale);
  const auto id = static_cast<std::uint16_t>((std::to_integer<unsigned>(real[4]) << 8) |
                                             std::to_integer<unsigned>(real[5]));
  const auto built = PacketBuilder::ipv4(s.src.toString(), s.dst.toString())
                         .tcp(s.src_port, s.dst_port)
                         .syn()
                         .seq(s.seq.raw())
                         .window(s.window)
                         .mss(s.options.mss)
                         .sackPermitted()
                         .timestamps(s.options.ts_val, s.options.ts_ecr)
                         .wscale(s.options.wscale)
                         .ttl(s.ip_ttl)
                         .ipId(id)
                         .build();
  ASSERT_EQ(built.size(), real.size());
  const std::size_t csum = s.tcp_offset + 16;
  for (std::size_t i = 0; i < real.size(); ++i) {
    if (i != csum && i != csum + 1) {
      EXPECT_EQ(built[i], real[i]) << "byte " << i;
    }
  }
  // The TCP checksum differs, and must: the sender's kernel left it to offload (veth,
  // CHECKSUM_PARTIAL), so the capture holds only the folded pseudo-header sum. The builder
  // writes the full checksum.
  EXPECT_EQ(engine::tcpChecksum(built, s.tcp_offset, built.size() - s.tcp_offset), 0);
  std::uint32_t pseudo = engine::checksumPartial(std::span<const std::byte>(real).subspan(12, 8));
  pseudo += 6 + static_cast<std::uint32_t>(real.size() - s.tcp_offset);
  while ((pseudo >> 16) != 0) {
    pseudo = (pseudo & 0xffff) + (pseudo >> 16);
  }
  EXPECT_EQ((std::to_integer<std::uint32_t>(real[csum]) << 8) |
                std::to_integer<std::uint32_t>(real[csum + 1]),
            pseudo);
}

}  // namespace
}  // namespace synguard::replay
