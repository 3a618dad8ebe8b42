// ICMP errors about proxied connections (the `icmp_pmtu` attack, docs/RELIABILITY.md): a router (or
// the gateway itself) quotes a segment as it left the gateway, i.e. translated; the engine moves
// the quote back into the receiver's sequence space so path-MTU discovery (RFC 1191, RFC 8201)
// works through the proxy.

#include "engine/protect/icmp.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/packet/checksum.h"
#include "tests/support/engine_harness.h"

namespace synguard::engine {
namespace {

using std::chrono::seconds;
using testing::icmpChecksumOk;
using testing::icmpError;
using testing::PacketBuilder;

constexpr std::uint32_t kClientIsn = 1000;
constexpr std::uint32_t kServerIsn = 900000000;  // far from the cookie: translation shows
constexpr std::uint32_t kClientTs = 5000;
constexpr std::uint32_t kServerTs = 777777;

std::uint16_t load16(const std::vector<std::byte>& p, std::size_t i) {
  return static_cast<std::uint16_t>((std::to_integer<unsigned>(p[i]) << 8) |
                                    std::to_integer<unsigned>(p[i + 1]));
}
std::uint32_t load32(const std::vector<std::byte>& p, std::size_t i) {
  return (std::uint32_t{load16(p, i)} << 16) | load16(p, i + 2);
}
void put16(std::vector<std::byte>& p, std::size_t i, std::uint16_t v) {
  p[i] = static_cast<std::byte>(v >> 8);
  p[i + 1] = static_cast<std::byte>(v);
}

/// The quoted packet inside an ICMP error built by icmpError().
std::vector<std::byte> quoteOf(const std::vector<std::byte>& icmp) {
  const bool v6 = (std::to_integer<unsigned>(icmp[0]) >> 4) == 6;
  return {icmp.begin() + (v6 ? 48 : 28), icmp.end()};
}

struct Addrs {
  std::string client;
  std::string server;
  std::string router;  ///< where the ICMP errors come from
};

class IcmpTest : public ::testing::TestWithParam<bool>, protected testing::EngineHarness {
 protected:
  IcmpTest()
      : EngineHarness(testing::testSecrets(SipKey{0x0123456789abcdefULL, 0xfedcba9876543210ULL})) {}

  static constexpr std::uint16_t kCport = 40000;
  static constexpr std::uint16_t kSport = 443;

  static EngineConfig config(ProtectionMode mode = ProtectionMode::kAlways) {
    EngineConfig cfg;
    cfg.table_capacity = 1024;
    ServiceConfig s;
    s.name = "web";
    EXPECT_TRUE(s.addresses.add("198.51.100.0/24").has_value());
    EXPECT_TRUE(s.addresses.add("2001:db8:5::/64").has_value());
    s.ports = {{443, 443}};
    s.mode = mode;
    cfg.protection.services.push_back(s);
    cfg.protection.proxy.capacity = 64;
    cfg.protection.proxy.early_segment_buffers = 16;
    return cfg;
  }

  void SetUp() override { start(config()); }

  bool v6() const { return GetParam(); }
  Addrs addrs() const {
    return v6() ? Addrs{"2001:db8:c::10", "2001:db8:5::10", "2001:db8:c::1"}
                : Addrs{"192.0.2.10", "198.51.100.1", "192.0.2.1"};
  }
  PacketBuilder ip(const std::string& a, const std::string& b) const {
    return v6() ? PacketBuilder::ipv6(a, b) : PacketBuilder::ipv4(a, b);
  }
  PacketBuilder c2s() const { return ip(addrs().client, addrs().server).tcp(kCport, kSport); }
  PacketBuilder s2c() const { return ip(addrs().server, addrs().client).tcp(kSport, kCport); }
  std::uint8_t tooBigType() const { return v6() ? 2 : 3; }
  std::uint8_t tooBigCode() const { return v6() ? 0 : 4; }

  std::uint64_t icmp(IcmpOutcome o) const {
    return engine_->stats().icmp[static_cast<std::size_t>(o)];
  }

  Segment popSegment() {
    EXPECT_FALSE(sink_.packets().empty());
    Segment s;
    EXPECT_EQ(parseSegment(sink_.packets().front(), s), ParseError::kNone);
    return s;
  }

  /// A whole proxied handshake (timestamps, window scale 7 on both sides, SACK); returns the
  /// cookie ISN and our cookie SYN-ACK's TSval.
  void join() {
    ASSERT_EQ(eng().process(c2s()
                                .syn()
                                .seq(kClientIsn)
                                .mss(1460)
                                .window(64240)
                                .sackPermitted()
                                .timestamps(kClientTs, 0)
                                .wscale(7)
                                .build()),
              Verdict::drop(VerdictReason::kCookieSent));
    const Segment sa = popSegment();
    sink_.clear();
    cookie_ = sa.seq.raw();
    cookie_ts_ = sa.options.ts_val;
    ASSERT_EQ(eng().process(c2s()
                                .seq(kClientIsn + 1)
                                .ack(cookie_ + 1)
                                .window(502)
                                .timestamps(kClientTs + 10, cookie_ts_)
                                .build()),
              Verdict::drop(VerdictReason::kProxyHandshake));
    const Segment syn = popSegment();
    sink_.clear();
    ASSERT_EQ(eng().process(s2c()
                                .syn()
                                .seq(kServerIsn)
                                .ack(kClientIsn + 1)
                                .window(65160)
                                .mss(1460)
                                .sackPermitted()
                                .timestamps(kServerTs, syn.options.ts_val)
                                .wscale(7)
                                .build()),
              Verdict::drop(VerdictReason::kProxyHandshake));
    ASSERT_EQ(sink_.packets().size(), 2U);  // our ACK to the server, the client's window update
    sink_.clear();
  }

  /// A server data segment as the server sent it.
  std::vector<std::byte> serverData(std::size_t payload) const {
    return s2c()
        .seq(kServerIsn + 1)
        .ack(kClientIsn + 1)
        .psh()
        .payload(payload)
        .window(500)
        .timestamps(kServerTs + 3, kClientTs + 10)
        .build();
  }
  /// ... and as it left the gateway toward the client.
  std::vector<std::byte> translated(std::vector<std::byte> bytes) {
    const Verdict v = eng().processMutable(bytes);
    EXPECT_EQ(v.reason, VerdictReason::kProxied);
    EXPECT_TRUE(v.rewritten);
    return bytes;
  }

  std::uint32_t cookie_ = 0;
  std::uint32_t cookie_ts_ = 0;
};

TEST_P(IcmpTest, TooBigTowardTheServerQuotesItsOwnSegmentAgain) {
  join();
  const std::vector<std::byte> original = serverData(1400);
  const std::vector<std::byte> out = translated(original);
  ASSERT_NE(load32(out, (v6() ? 40 : 20) + 4), kServerIsn + 1) << "translated on its way out";
  // The gateway (its client-side link has MTU 1280) quotes what it could not forward: as much
  // as fits (RFC 1812 §4.3.2.3: 576 bytes in all for IPv4; RFC 4443: 1280 for IPv6).
  const std::size_t quote = v6() ? 1280 - 48 : 576 - 28;
  auto err = icmpError(addrs().router, addrs().server, tooBigType(), tooBigCode(), out, quote);
  ASSERT_TRUE(icmpChecksumOk(err));
  const Verdict v = eng().processMutable(err);
  EXPECT_EQ(v.action, Action::kAccept);
  EXPECT_EQ(v.reason, VerdictReason::kProxied);
  EXPECT_TRUE(v.rewritten);
  EXPECT_EQ(icmp(IcmpOutcome::kToServer), 1U);
  EXPECT_TRUE(icmpChecksumOk(err));
  // The quote is the server's own segment again, byte for byte: seq in its space, its TSval,
  // and the quoted TCP checksum (updated incrementally for the whole segment) its own.
  const std::vector<std::byte> q = quoteOf(err);
  ASSERT_EQ(q.size(), quote);
  EXPECT_TRUE(std::equal(q.begin(), q.end(), original.begin()));
  EXPECT_EQ(load16(err, v6() ? 46 : 26), 1280) << "the MTU is left alone";
}

TEST_P(IcmpTest, AWholeQuotedSegmentKeepsAValidTcpChecksum) {
  join();
  const std::vector<std::byte> original = serverData(100);
  const std::vector<std::byte> out = translated(original);
  auto err = icmpError(addrs().router, addrs().server, tooBigType(), tooBigCode(), out, out.size());
  EXPECT_EQ(eng().processMutable(err).reason, VerdictReason::kProxied);
  EXPECT_TRUE(icmpChecksumOk(err));
  const std::vector<std::byte> q = quoteOf(err);
  EXPECT_EQ(q, original);
  Segment s;
  ASSERT_EQ(parseSegment(q, s), ParseError::kNone);
  EXPECT_EQ(tcpChecksum(q, s.tcp_offset, q.size() - s.tcp_offset), 0);
  EXPECT_EQ(s.seq.raw(), kServerIsn + 1);
  EXPECT_EQ(s.options.ts_val, kServerTs + 3);
}

TEST_P(IcmpTest, ShortQuotesTranslateWhatTheyHold) {
  join();
  const std::vector<std::byte> original = serverData(1400);
  const std::vector<std::byte> out = translated(original);
  const std::size_t tcp = v6() ? 40 : 20;
  // RFC 792's 8 bytes (ports and seq), then the ACK, the checksum, the fixed header, the
  // TSval but not the TSecr (fields are moved as far as they are quoted).
  for (const std::size_t n : {8, 12, 14, 18, 20, 30}) {
    SCOPED_TRACE(n);
    auto err = icmpError(addrs().router, addrs().server, tooBigType(), tooBigCode(), out, tcp + n);
    EXPECT_EQ(eng().processMutable(err).reason, VerdictReason::kProxied);
    EXPECT_TRUE(icmpChecksumOk(err));
    const std::vector<std::byte> q = quoteOf(err);
    EXPECT_EQ(load32(q, tcp + 4), kServerIsn + 1);
    ASSERT_EQ(q.size(), tcp + n);
    auto expected = std::vector<std::byte>(original.begin(), original.begin() + (tcp + n));
    if (n >= 18 && n < 28) {
      // The quoted checksum covers the whole segment, whose TSval (not quoted) stays in the
      // client's view: the checksum is the original's adjusted by that one field.
      put16(expected, tcp + 16, load16(q, tcp + 16));
    }
    EXPECT_EQ(q, expected);
  }
  EXPECT_EQ(icmp(IcmpOutcome::kToServer), 6U);
}

TEST_P(IcmpTest, ErrorsTowardTheClientGetTheClientsView) {
  join();
  // Client data with a SACK block, as the client sent it and as it left toward the server.
  const std::vector<std::byte> original = c2s()
                                              .seq(kClientIsn + 1)
                                              .ack(cookie_ + 1)
                                              .window(502)
                                              .timestamps(kClientTs + 20, cookie_ts_)
                                              .sack({{cookie_ + 1001, cookie_ + 2001}})
                                              .payload(1200)
                                              .build();
  std::vector<std::byte> out = original;
  ASSERT_EQ(eng().processMutable(out).reason, VerdictReason::kProxied);
  ASSERT_NE(out, original);
  auto err = icmpError(v6() ? "2001:db8:5::1" : "198.51.100.254", addrs().client, tooBigType(),
                       tooBigCode(), out, v6() ? 1232 : 548);
  const Verdict v = eng().processMutable(err);
  EXPECT_EQ(v.reason, VerdictReason::kProxied);
  EXPECT_EQ(icmp(IcmpOutcome::kToClient), 1U);
  EXPECT_TRUE(icmpChecksumOk(err));
  const std::vector<std::byte> q = quoteOf(err);
  EXPECT_TRUE(std::equal(q.begin(), q.end(), original.begin()));
}

TEST_P(IcmpTest, ReadOnlyProcessingClassifiesButLeavesTheBytes) {
  join();
  const std::vector<std::byte> out = translated(serverData(100));
  const auto err =
      icmpError(addrs().router, addrs().server, tooBigType(), tooBigCode(), out, out.size());
  const Verdict v = eng().process(err);
  EXPECT_EQ(v.reason, VerdictReason::kProxied);
  EXPECT_FALSE(v.rewritten);
  EXPECT_EQ(icmp(IcmpOutcome::kToServer), 1U);
}

TEST_P(IcmpTest, OtherUnreachablesAndTimeExceededAreTranslatedToo) {
  join();
  const std::vector<std::byte> original = serverData(100);
  const std::vector<std::byte> out = translated(original);
  // v4: host unreachable (3/1), time exceeded (11/0), parameter problem (12/0);
  // v6: address unreachable (1/3), time exceeded (3/0), parameter problem (4/0).
  const std::vector<std::pair<std::uint8_t, std::uint8_t>> kinds =
      v6() ? std::vector<std::pair<std::uint8_t, std::uint8_t>>{{1, 3}, {3, 0}, {4, 0}}
           : std::vector<std::pair<std::uint8_t, std::uint8_t>>{{3, 1}, {11, 0}, {12, 0}};
  for (const auto& [type, code] : kinds) {
    auto err = icmpError(addrs().router, addrs().server, type, code, out, out.size());
    EXPECT_EQ(eng().processMutable(err).reason, VerdictReason::kProxied);
    EXPECT_EQ(quoteOf(err), original);
    EXPECT_TRUE(icmpChecksumOk(err));
  }
  // Not errors (echo request; v4 source quench, obsolete per RFC 6633): ordinary non-TCP.
  auto echo = icmpError(addrs().router, addrs().server, v6() ? 128 : 8, 0, out, out.size());
  const auto before = echo;
  EXPECT_EQ(eng().processMutable(echo), Verdict::accept(VerdictReason::kNotTcp));
  EXPECT_EQ(echo, before);
  EXPECT_EQ(icmp(IcmpOutcome::kToServer), 3U);
}

TEST_P(IcmpTest, QuotesOfTheServersHandshakeAreDropped) {
  ASSERT_EQ(eng().process(c2s().syn().seq(kClientIsn).mss(1460).timestamps(kClientTs, 0).build()),
            Verdict::drop(VerdictReason::kCookieSent));
  const Segment sa = popSegment();
  sink_.clear();
  ASSERT_EQ(eng().process(c2s()
                              .seq(kClientIsn + 1)
                              .ack(sa.seq.raw() + 1)
                              .timestamps(kClientTs + 1, sa.options.ts_val)
                              .build()),
            Verdict::drop(VerdictReason::kProxyHandshake));
  const std::vector<std::byte> our_syn = sink_.packets().front();
  sink_.clear();
  // The server's SYN-ACK never leaves the gateway: an error quoting one is forged (a guess at
  // the server's ISN would abort its half-open connection).
  const auto synack = s2c().syn().seq(kServerIsn).ack(kClientIsn + 1).build();
  auto err =
      icmpError(addrs().router, addrs().server, v6() ? 1 : 3, v6() ? 4 : 3, synack, synack.size());
  EXPECT_EQ(eng().processMutable(err), Verdict::drop(VerdictReason::kProxyHandshake));
  // An error about our SYN to the server goes to the client, in its own sequence space.
  auto about_syn = icmpError(v6() ? "2001:db8:5::1" : "198.51.100.254", addrs().client,
                             v6() ? 1 : 3, v6() ? 3 : 1, our_syn, our_syn.size());
  const auto before = about_syn;
  EXPECT_EQ(eng().processMutable(about_syn), Verdict::accept(VerdictReason::kNotTcp));
  EXPECT_EQ(about_syn, before);
  EXPECT_EQ(icmp(IcmpOutcome::kHandshake), 2U);
}

TEST_P(IcmpTest, UnknownTuplesAreDroppedInCookieModeOnly) {
  // A blind attacker's error about a made-up connection of the service.
  const auto seg = s2c().seq(123).ack(456).payload(1000).build();
  auto err = icmpError(addrs().router, addrs().server, tooBigType(), tooBigCode(), seg, 100);
  EXPECT_EQ(eng().processMutable(err), Verdict::drop(VerdictReason::kNoConnection));
  EXPECT_EQ(icmp(IcmpOutcome::kNoConnection), 1U);
  start(config(ProtectionMode::kAdaptive));  // normal mode: the server's own checks judge it
  const auto before = err;
  EXPECT_EQ(eng().processMutable(err), Verdict::accept(VerdictReason::kNotTcp));
  EXPECT_EQ(err, before);
  EXPECT_EQ(icmp(IcmpOutcome::kNoConnection), 1U);
}

TEST_P(IcmpTest, UntranslatedAndMisdirectedErrorsPassUntouched) {
  start(config(ProtectionMode::kOff));
  // A tracked connection (no cookie, no proxy): its errors are the kernel's business.
  ASSERT_EQ(eng().process(c2s().syn().seq(kClientIsn).build()).reason, VerdictReason::kTracked);
  ASSERT_EQ(eng().process(s2c().syn().seq(kServerIsn).ack(kClientIsn + 1).build()).reason,
            VerdictReason::kTracked);
  const auto data = s2c().seq(kServerIsn + 1).ack(kClientIsn + 1).payload(1400).build();
  auto err = icmpError(addrs().router, addrs().server, tooBigType(), tooBigCode(), data, 200);
  auto before = err;
  EXPECT_EQ(eng().processMutable(err), Verdict::accept(VerdictReason::kNotTcp));
  EXPECT_EQ(err, before);
  EXPECT_EQ(icmp(IcmpOutcome::kNotProxied), 1U);
  // Sent to someone other than the quoted segment's source.
  err = icmpError(addrs().router, addrs().client, tooBigType(), tooBigCode(), data, 200);
  before = err;
  EXPECT_EQ(eng().processMutable(err), Verdict::accept(VerdictReason::kNotTcp));
  EXPECT_EQ(err, before);
  EXPECT_EQ(icmp(IcmpOutcome::kMisdirected), 1U);
}

TEST_P(IcmpTest, MalformedErrorsAreCountedAndDropped) {
  join();
  const std::vector<std::byte> out = translated(serverData(100));
  const std::size_t tcp = v6() ? 40 : 20;
  // Fewer than 8 bytes of TCP; the quoted IP header cut short.
  for (const std::size_t n : {tcp + 4, tcp - 4, std::size_t{1}}) {
    auto err = icmpError(addrs().router, addrs().server, tooBigType(), tooBigCode(), out, n);
    EXPECT_EQ(eng().processMutable(err), Verdict::drop(VerdictReason::kMalformed));
  }
  // The ICMP header itself cut short (4 of its 8 bytes).
  auto err = icmpError(addrs().router, addrs().server, tooBigType(), tooBigCode(), out, 0);
  err.resize(err.size() - 4);
  if (v6()) {
    put16(err, 4, 4);
  } else {
    put16(err, 2, static_cast<std::uint16_t>(err.size()));
  }
  EXPECT_EQ(eng().processMutable(err), Verdict::drop(VerdictReason::kMalformed));
  EXPECT_EQ(icmp(IcmpOutcome::kTruncated), 4U);
  // A quote of the other IP version, and (v4) an IHL below 5.
  auto bad = icmpError(addrs().router, addrs().server, tooBigType(), tooBigCode(), out, 100);
  bad[v6() ? 48 : 28] = v6() ? std::byte{0x45} : std::byte{0x65};
  EXPECT_EQ(eng().processMutable(bad), Verdict::drop(VerdictReason::kMalformed));
  EXPECT_EQ(icmp(IcmpOutcome::kBadQuote), 1U);
  if (!v6()) {
    bad = icmpError(addrs().router, addrs().server, 3, 4, out, 100);
    bad[28] = std::byte{0x44};
    EXPECT_EQ(eng().processMutable(bad), Verdict::drop(VerdictReason::kMalformed));
    EXPECT_EQ(icmp(IcmpOutcome::kBadQuote), 2U);
  }
}

TEST_P(IcmpTest, RandomQuotesNeverCrashAndGetOneVerdictEach) {
  join();
  const std::vector<std::byte> out = translated(serverData(300));
  std::mt19937 rng(14);
  for (int i = 0; i < 20000; ++i) {
    auto quote = out;
    const std::size_t flips = rng() % 6;
    for (std::size_t f = 0; f < flips; ++f) {
      quote[rng() % std::min<std::size_t>(quote.size(), 120)] = static_cast<std::byte>(rng());
    }
    auto err = icmpError(addrs().router, rng() % 2 == 0 ? addrs().server : addrs().client,
                         static_cast<std::uint8_t>(rng() % 5), static_cast<std::uint8_t>(rng() % 5),
                         quote, rng() % (quote.size() + 1));
    if (rng() % 3 == 0) {
      err.resize(rng() % (err.size() + 1));  // cut anywhere
    }
    (void)eng().processMutable(err);
  }
  const EngineStats& s = eng().stats();
  std::uint64_t verdicts = 0;
  for (std::size_t r = 0; r < kVerdictReasonCount; ++r) {
    verdicts += s.accepted[r] + s.dropped[r];
  }
  EXPECT_EQ(verdicts, s.packets);
}

/// `p` with an 8-byte extension header of `type` inserted after the IPv6 header at `at`
/// (payload length updated; checksums left as they were).
std::vector<std::byte> withExtensionHeader(std::vector<std::byte> p, std::size_t at,
                                           std::uint8_t type) {
  std::vector<std::byte> h(8, std::byte{0});
  h[0] = p[at + 6];
  p[at + 6] = std::byte{type};
  p.insert(p.begin() + static_cast<std::ptrdiff_t>(at + 40), h.begin(), h.end());
  put16(p, at + 4, static_cast<std::uint16_t>(load16(p, at + 4) + 8));
  return p;
}

IcmpParse parseIcmp(const std::vector<std::byte>& p, IcmpQuote& q) { return parseIcmpError(p, q); }

TEST(ParseIcmpError, QuotedIpv6ExtensionHeadersAreWalked) {
  auto seg = PacketBuilder::ipv6("2001:db8::1", "2001:db8::2").tcp(1234, 80).syn();
  for (int i = 0; i < 8; ++i) {
    seg.ipv6ExtensionHeader(i % 2 == 0 ? 60 : 51, {1, 4, 0, 0, 0, 0});
  }
  const auto quoted = seg.build();
  IcmpQuote q;
  ASSERT_EQ(parseIcmp(icmpError("2001:db8::9", "2001:db8::1", 1, 0, quoted, 1280), q),
            IcmpParse::kTcpQuote);
  EXPECT_EQ(q.tcp_offset, 48U + 40 + 8 * 8);
  EXPECT_EQ(q.src_port, 1234U);
  // Cut inside the chain.
  EXPECT_EQ(parseIcmp(icmpError("2001:db8::9", "2001:db8::1", 1, 0, quoted, 40 + 8 * 4 + 1), q),
            IcmpParse::kTruncated);
  // A ninth header is more than the segment parser follows: the error is passed on, unless the
  // quote ends inside that header.
  const auto nine = seg.ipv6ExtensionHeader(60, {1, 4, 0, 0, 0, 0}).build();
  EXPECT_EQ(parseIcmp(icmpError("2001:db8::9", "2001:db8::1", 1, 0, nine, 1280), q),
            IcmpParse::kOther);
  EXPECT_EQ(parseIcmp(icmpError("2001:db8::9", "2001:db8::1", 1, 0, nine, 40 + 8 * 8 + 4), q),
            IcmpParse::kTruncated);
}

TEST(ParseIcmpError, QuotedIpv6FragmentsOnlyAtOffsetZero) {
  auto seg = PacketBuilder::ipv6("2001:db8::1", "2001:db8::2").tcp(1234, 80).syn();
  IcmpQuote q;
  const auto first = seg.fragment(0, true).build();
  ASSERT_EQ(parseIcmp(icmpError("2001:db8::9", "2001:db8::1", 2, 0, first, 1280), q),
            IcmpParse::kTcpQuote);
  EXPECT_EQ(q.tcp_offset, 48U + 48);
  const auto later = PacketBuilder::ipv6("2001:db8::1", "2001:db8::2")
                         .tcp(1234, 80)
                         .syn()
                         .fragment(3, false)
                         .build();
  EXPECT_EQ(parseIcmp(icmpError("2001:db8::9", "2001:db8::1", 2, 0, later, 1280), q),
            IcmpParse::kOther);
}

TEST(ParseIcmpError, OuterIpv6ExtensionHeadersBeforeTheIcmpv6Header) {
  const auto seg = PacketBuilder::ipv6("2001:db8::1", "2001:db8::2").tcp(1234, 80).syn().build();
  const auto error = icmpError("2001:db8::9", "2001:db8::1", 1, 0, seg, 1280);
  IcmpQuote q;
  ASSERT_EQ(parseIcmp(withExtensionHeader(error, 0, 60), q), IcmpParse::kTcpQuote);
  EXPECT_EQ(q.icmp_offset, 48U);
  EXPECT_EQ(q.tcp_offset, 48U + 8 + 40);
  // A fragmented error is not parsed, not even an atomic fragment.
  EXPECT_EQ(parseIcmp(testing::atomicFragmentOf(error), q), IcmpParse::kOther);
  // Neither is one behind a header of another protocol.
  EXPECT_EQ(parseIcmp(withExtensionHeader(error, 0, 17), q), IcmpParse::kOther);
}

INSTANTIATE_TEST_SUITE_P(V4AndV6, IcmpTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return i.param ? std::string("ipv6") : std::string("ipv4");
                         });

}  // namespace
}  // namespace synguard::engine
