// Fragments cannot evade counting (the `fragments` attack, docs/RELIABILITY.md): IPv6 atomic
// fragments are packets, a first fragment holding the TCP header is the segment it carries (SYN
// rate, half-open, limits, cookies), fragments that hide or overlap the TCP header never pass to a
// protected address, and later fragments are dropped while a service on their address is in cookie
// mode.

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "tests/support/engine_harness.h"

namespace synguard::engine {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::atomicFragmentOf;
using testing::fragmentOf;
using testing::PacketBuilder;

constexpr const char* kServer = "198.51.100.1";
constexpr const char* kServer6 = "2001:db8:5::1";

class FragmentTest : public ::testing::Test, protected testing::EngineHarness {
 protected:
  FragmentTest() : EngineHarness(testing::testSecrets(SipKey{1, 2})) {}

  static ServiceConfig service(ProtectionMode mode) {
    return testing::webService(mode, {{80, 80}});
  }
  static EngineConfig config(const ServiceConfig& s) {
    EngineConfig cfg;
    cfg.table_capacity = 1 << 14;
    cfg.protection.services.push_back(s);
    return cfg;
  }
  ServiceMode mode() const { return engine_->service(0).mode.mode(); }

  /// A spoofed SYN with 100 bytes of data from a distinct /24, as a whole datagram.
  static std::vector<std::byte> spoofedSyn(std::uint32_t n, const char* dst = kServer) {
    const std::string src =
        "10." + std::to_string((n >> 8) & 0xff) + "." + std::to_string(n & 0xff) + ".1";
    return PacketBuilder::ipv4(src, dst)
        .tcp(static_cast<std::uint16_t>(1024 + n % 50000), 80)
        .syn()
        .seq(n)
        .mss(1460)
        .timestamps(n, 0)
        .payload(100)
        .build();
  }
  /// Its first fragment: the whole TCP header (36 bytes) and 4 bytes of data.
  static std::vector<std::byte> firstOf(const std::vector<std::byte>& whole) {
    return fragmentOf(whole, 0, 40, true);
  }
  static std::vector<std::byte> restOf(const std::vector<std::byte>& whole) {
    return fragmentOf(whole, 64, 1000, false);
  }
  /// The meta of a packet whose TCP checksum the kernel did not verify.
  static PacketMeta unverified() { return PacketMeta{0, false, true}; }
};

TEST_F(FragmentTest, Ipv6AtomicFragmentSynsAreSynsInEveryMode) {
  const auto syn = [](std::uint16_t sport) {
    return atomicFragmentOf(
        PacketBuilder::ipv6("2001:db8:66::9", kServer6).tcp(sport, 80).syn().seq(5).build());
  };
  start(config(service(ProtectionMode::kAlways)));
  auto p = syn(4000);
  EXPECT_EQ(eng().processMutable(p, unverified()), Verdict::drop(VerdictReason::kCookieSent));
  ASSERT_EQ(sink_.packets().size(), 1U);
  EXPECT_EQ(eng().stats().cookies_sent, 1U);
  EXPECT_EQ(eng().service(0).syns, 1U);
  EXPECT_EQ(eng().stats().first_fragments, 0U) << "an atomic fragment is no fragment";
  EXPECT_EQ(dropped(VerdictReason::kFragment), 0U);
  // Its checksum is checked like any SYN's.
  auto bad = atomicFragmentOf(
      PacketBuilder::ipv6("2001:db8:66::9", kServer6).tcp(4001, 80).syn().badChecksum().build());
  EXPECT_EQ(eng().processMutable(bad, unverified()), Verdict::drop(VerdictReason::kMalformed));

  start(config(service(ProtectionMode::kAdaptive)));
  EXPECT_EQ(eng().process(syn(4000)), Verdict::accept(VerdictReason::kTracked));
  EXPECT_EQ(eng().service(0).half_open, 1U);
  EXPECT_EQ(eng().table().size(), 1U);
}

TEST_F(FragmentTest, FragmentedSynFloodSwitchesAdaptiveModeAndThenGetsCookies) {
  start(config(service(ProtectionMode::kAdaptive)));
  std::uint32_t n = 0;
  for (; n < 100; ++n) {
    clock_.advance(milliseconds(1));
    const auto whole = spoofedSyn(n);
    auto first = firstOf(whole);
    // The fragment's checksum covers the whole datagram: it is not checked (or it would fail).
    ASSERT_EQ(eng().processMutable(first, unverified()), Verdict::accept(VerdictReason::kTracked))
        << n;
    // The 100th SYN made the 100th half-open connection: its rest already meets cookie mode.
    ASSERT_EQ(eng().process(restOf(whole)), n < 99 ? Verdict::accept(VerdictReason::kFragment)
                                                   : Verdict::drop(VerdictReason::kFragment))
        << n;
  }
  EXPECT_EQ(eng().service(0).syns, 100U);
  EXPECT_EQ(eng().service(0).half_open, 100U);
  EXPECT_EQ(mode(), ServiceMode::kCookie) << "the fragmented SYNs count toward the threshold";
  EXPECT_TRUE(sink_.packets().empty());
  // From now on each fragmented SYN is answered with a cookie and goes no further, nor does the
  // rest of its datagram.
  for (; n < 150; ++n) {
    const auto whole = spoofedSyn(n);
    auto first = firstOf(whole);
    ASSERT_EQ(eng().processMutable(first, unverified()), Verdict::drop(VerdictReason::kCookieSent))
        << n;
    ASSERT_EQ(eng().process(restOf(whole)), Verdict::drop(VerdictReason::kFragment)) << n;
  }
  EXPECT_EQ(eng().stats().cookies_sent, 50U);
  ASSERT_EQ(sink_.packets().size(), 50U);
  Segment sa;
  ASSERT_EQ(parseSegment(sink_.packets().back(), sa), ParseError::kNone);
  EXPECT_EQ(sa.flags, kSyn | kAck);
  EXPECT_EQ(sa.ack.raw(), 150U) << "the SYN's ISN + 1 (ISN 149)";
  EXPECT_EQ(sa.options.ts_ecr, 149U) << "the fragment's options were read";
  EXPECT_EQ(eng().stats().first_fragments, 150U);
  EXPECT_EQ(eng().service(0).syns, 150U);
  EXPECT_EQ(eng().table().size(), 100U) << "cookie SYNs leave no state";
}

TEST_F(FragmentTest, FragmentedSynsCountAgainstPerSourceLimits) {
  ServiceConfig s = service(ProtectionMode::kAdaptive);
  s.per_source.syn_rate = 2;
  s.per_source.syn_burst = 2;
  start(config(s));
  for (std::uint16_t port = 1; port <= 3; ++port) {
    const auto whole = PacketBuilder::ipv4("203.0.113.7", kServer)
                           .tcp(static_cast<std::uint16_t>(5000 + port), 80)
                           .syn()
                           .payload(40)
                           .build();
    const Verdict v = eng().process(fragmentOf(whole, 0, 24, true));
    if (port <= 2) {
      EXPECT_EQ(v, Verdict::accept(VerdictReason::kTracked)) << port;
    } else {
      EXPECT_EQ(v, Verdict::drop(VerdictReason::kSourceRate)) << port;
    }
  }
}

TEST_F(FragmentTest, CookieModeNeverTakesACookieAckFromAFragment) {
  start(config(service(ProtectionMode::kAlways)));
  const auto c2s = [] { return PacketBuilder::ipv4("192.0.2.10", kServer).tcp(40000, 80); };
  ASSERT_EQ(eng().process(c2s().syn().seq(1000).mss(1460).build()),
            Verdict::drop(VerdictReason::kCookieSent));
  ASSERT_EQ(sink_.packets().size(), 1U);
  Segment sa;
  ASSERT_EQ(parseSegment(sink_.packets()[0], sa), ParseError::kNone);
  sink_.clear();
  // The client's valid cookie ACK with data, fragmented: the proxy would only see its start.
  const auto ack = c2s().seq(1001).ack(sa.seq.raw() + 1).psh().payload(300).build();
  EXPECT_EQ(eng().process(fragmentOf(ack, 0, 64, true)),
            Verdict::drop(VerdictReason::kFragmentNoConnection));
  EXPECT_EQ(eng().process(fragmentOf(ack, 64, 400, false)),
            Verdict::drop(VerdictReason::kFragment));
  EXPECT_EQ(eng().stats().cookies_validated, 0U);
  EXPECT_EQ(eng().proxies().size(), 0U);
  EXPECT_TRUE(sink_.packets().empty());
  // Any other first fragment with no connection: a RST, a SYN-ACK.
  EXPECT_EQ(eng().process(fragmentOf(c2s().rst().seq(9).payload(40).build(), 0, 24, true)),
            Verdict::drop(VerdictReason::kFragmentNoConnection));
  EXPECT_EQ(eng().process(fragmentOf(c2s().syn().ack(1).payload(40).build(), 0, 24, true)),
            Verdict::drop(VerdictReason::kFragmentNoConnection));
  EXPECT_EQ(dropped(VerdictReason::kFragmentNoConnection), 3U);

  // The same ACK whole validates: the cookie was good.
  EXPECT_EQ(eng().process(ack), Verdict::drop(VerdictReason::kProxyHeld));
  EXPECT_EQ(eng().stats().cookies_validated, 1U);
  ASSERT_EQ(sink_.packets().size(), 1U);  // our SYN to the server
  Segment syn;
  ASSERT_EQ(parseSegment(sink_.packets()[0], syn), ParseError::kNone);
  sink_.clear();
  // First fragments of a proxied connection, either way: dropped, never translated.
  const auto more = c2s().seq(1301).ack(sa.seq.raw() + 1).psh().payload(300).build();
  EXPECT_EQ(eng().process(fragmentOf(more, 0, 32, true)),
            Verdict::drop(VerdictReason::kFragmentProxied));
  const auto reply = PacketBuilder::ipv4(kServer, "192.0.2.10")
                         .tcp(80, 40000)
                         .syn()
                         .ack(syn.seq.raw() + 1)
                         .seq(777)
                         .payload(40)
                         .build();
  EXPECT_EQ(eng().process(fragmentOf(reply, 0, 24, true)),
            Verdict::drop(VerdictReason::kFragmentProxied));
  EXPECT_EQ(dropped(VerdictReason::kFragmentProxied), 2U);
  EXPECT_TRUE(sink_.packets().empty());
  EXPECT_EQ(eng().stats().proxy_completed, 0U) << "the fragmented SYN-ACK did not complete it";
}

TEST_F(FragmentTest, NormalModeTracksFirstFragmentsLikeSegments) {
  start(config(service(ProtectionMode::kAdaptive)));
  const auto c2s = [] { return PacketBuilder::ipv4("192.0.2.10", kServer).tcp(40000, 80); };
  const auto s2c = [] { return PacketBuilder::ipv4(kServer, "192.0.2.10").tcp(80, 40000); };
  const auto syn = c2s().syn().seq(1000).mss(1460).payload(0).build();
  EXPECT_EQ(eng().process(syn), Verdict::accept(VerdictReason::kTracked));
  EXPECT_EQ(eng().process(s2c().syn().seq(5000).ack(1001).mss(1460).build()),
            Verdict::accept(VerdictReason::kTracked));
  EXPECT_EQ(eng().process(c2s().seq(1001).ack(5001).build()),
            Verdict::accept(VerdictReason::kTracked));
  // 1000 bytes of data in two fragments: only the first 44 bytes' worth are seen.
  const auto data = c2s().seq(1001).ack(5001).psh().payload(1000).build();
  EXPECT_EQ(eng().process(fragmentOf(data, 0, 64, true)), Verdict::accept(VerdictReason::kTracked));
  EXPECT_EQ(eng().process(fragmentOf(data, 64, 2000, false)),
            Verdict::accept(VerdictReason::kFragment));
  // The server acknowledges all of it: not an ACK of unseen data.
  EXPECT_EQ(eng().process(s2c().seq(5001).ack(2001).build()),
            Verdict::accept(VerdictReason::kTracked));
  EXPECT_EQ(eng().process(c2s().seq(2001).ack(5001).fin().build()),
            Verdict::accept(VerdictReason::kTracked));
  std::uint64_t invalid = 0;
  for (const auto i : eng().stats().invalid) {
    invalid += i;
  }
  EXPECT_EQ(invalid, 0U);
  EXPECT_EQ(eng().stats().first_fragments, 1U);
  // A first fragment with no connection is picked up as any segment is.
  EXPECT_EQ(eng().process(fragmentOf(PacketBuilder::ipv4("192.0.2.11", kServer)
                                         .tcp(40001, 80)
                                         .seq(1)
                                         .ack(2)
                                         .payload(100)
                                         .build(),
                                     0, 24, true)),
            Verdict::accept(VerdictReason::kTracked));
  EXPECT_EQ(eng().stats().connections_picked_up, 1U);
}

TEST_F(FragmentTest, FragmentsHidingTheTcpHeaderNeverPassToAProtectedAddress) {
  const auto whole4 = spoofedSyn(1);
  const auto whole6 = PacketBuilder::ipv6("2001:db8:66::9", kServer6)
                          .tcp(4000, 80)
                          .syn()
                          .mss(1440)
                          .payload(200)
                          .build();
  const std::vector<std::vector<std::byte>> unsafe = {
      fragmentOf(whole4, 0, 16, true),      // tiny: half the fixed header
      fragmentOf(whole4, 0, 32, true),      // tiny: the options cut
      fragmentOf(whole4, 8, 1000, false),   // offset 1 (RFC 1858 §3.2): rewrites the flags
      fragmentOf(whole4, 56, 1000, false),  // offset 7: still within 64 bytes
      fragmentOf(whole6, 0, 16, true),     fragmentOf(whole6, 8, 1000, false),
  };
  for (const auto mode : {ProtectionMode::kAdaptive, ProtectionMode::kAlways}) {
    SCOPED_TRACE(mode == ProtectionMode::kAlways ? "always" : "adaptive (normal mode)");
    start(config(service(mode)));
    for (const auto& p : unsafe) {
      EXPECT_EQ(eng().process(p), Verdict::drop(VerdictReason::kFragmentUnsafe));
    }
    EXPECT_EQ(parseErrors(ParseError::kTinyFragment), 3U);
    EXPECT_EQ(parseErrors(ParseError::kOverlappingFragment), 3U);
    EXPECT_EQ(dropped(VerdictReason::kFragmentUnsafe), 6U);
    EXPECT_EQ(eng().service(0).syns, 0U);
    EXPECT_TRUE(sink_.packets().empty());
    // No port to judge by: any port on a protected address.
    const auto other_port =
        PacketBuilder::ipv4("203.0.113.9", kServer).tcp(4000, 22).syn().payload(100).build();
    EXPECT_EQ(eng().process(fragmentOf(other_port, 0, 16, true)),
              Verdict::drop(VerdictReason::kFragmentUnsafe));
    // Unprotected addresses: counted, passed (the destination's stack drops overlaps, RFC 5722;
    // synguard judges only what goes to its services).
    const auto elsewhere = spoofedSyn(2, "192.0.2.200");
    EXPECT_EQ(eng().process(fragmentOf(elsewhere, 0, 16, true)),
              Verdict::accept(VerdictReason::kFragment));
    EXPECT_EQ(eng().process(fragmentOf(elsewhere, 8, 100, false)),
              Verdict::accept(VerdictReason::kFragment));
  }
  // A service with protection off does not judge; monitor mode only counts.
  start(config(service(ProtectionMode::kOff)));
  EXPECT_EQ(eng().process(unsafe[0]), Verdict::accept(VerdictReason::kFragment));
  ServiceConfig m = service(ProtectionMode::kAlways);
  m.monitor = true;
  start(config(m));
  EXPECT_EQ(eng().process(unsafe[2]), Verdict::accept(VerdictReason::kFragment));
  EXPECT_EQ(eng().stats().would_drop[static_cast<std::size_t>(VerdictReason::kFragmentUnsafe)], 1U);
  // Fragments of other protocols are not TCP's to judge.
  auto udp = fragmentOf(whole4, 0, 16, true);
  udp[9] = std::byte{17};
  start(config(service(ProtectionMode::kAlways)));
  EXPECT_EQ(eng().process(udp), Verdict::accept(VerdictReason::kFragment));
}

TEST_F(FragmentTest, EveryPacketGetsOneVerdict) {
  start(config(service(ProtectionMode::kAlways)));
  const auto whole = spoofedSyn(3);
  for (const auto& p : {firstOf(whole), restOf(whole), fragmentOf(whole, 0, 16, true),
                        fragmentOf(whole, 8, 100, false)}) {
    eng().process(p);
  }
  std::uint64_t verdicts = 0;
  for (std::size_t r = 0; r < kVerdictReasonCount; ++r) {
    verdicts += eng().stats().accepted[r] + eng().stats().dropped[r];
  }
  EXPECT_EQ(verdicts, eng().stats().packets);
  EXPECT_EQ(accepted(VerdictReason::kFragment), 0U);
}

}  // namespace
}  // namespace synguard::engine
