#include "engine/protect/syn_cookie.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace synguard::engine {
namespace {

using std::chrono::seconds;

SipKey key(std::uint8_t first) {
  std::array<std::uint8_t, 16> b{};
  for (std::uint8_t i = 0; i < 16; ++i) {
    b[i] = static_cast<std::uint8_t>(first + i);
  }
  return SipKey::fromBytes(b);
}

FlowKey tuple(const char* client = "192.0.2.10", std::uint16_t cport = 40000,
              const char* server = "198.51.100.1", std::uint16_t sport = 443) {
  return FlowKey{*IpAddress::parse(client), *IpAddress::parse(server), cport, sport};
}

TEST(SipHash, ReferenceVectors) {
  // SipHash paper, Appendix A: key 00..0f, message 00..0e -> a129ca6149be45e5; and the
  // reference implementation's vectors[0] for the empty message.
  const SipKey k = key(0);
  std::vector<std::uint8_t> msg;
  EXPECT_EQ(sipHash24(k, msg), 0x726fdb47dd0e0e31ULL);
  for (std::uint8_t i = 0; i < 15; ++i) {
    msg.push_back(i);
  }
  EXPECT_EQ(sipHash24(k, msg), 0xa129ca6149be45e5ULL);
}

TEST(SipHash, WordsAreTheLittleEndianBytes) {
  const SipKey k = key(3);
  for (std::size_t n = 0; n < 8; ++n) {
    std::vector<std::uint64_t> words;
    std::vector<std::uint8_t> bytes;
    for (std::size_t w = 0; w < n; ++w) {
      const std::uint64_t v = 0x0123456789abcdefULL * (w + 1);
      words.push_back(v);
      for (int b = 0; b < 8; ++b) {
        bytes.push_back(static_cast<std::uint8_t>(v >> (8 * b)));
      }
    }
    EXPECT_EQ(sipHash24Words(k, words), sipHash24(k, bytes)) << n;
  }
}

TEST(SynCookies, RoundTripCarriesTheMss) {
  const SynCookies sc({}, CookieKeys{key(1), {}, false});
  const seconds now{1'800'000'000};
  for (const std::uint16_t mss : std::vector<std::uint16_t>{1460, 1400, 536, 9000, 100}) {
    const auto made = sc.make(tuple(), SeqNum{1000}, mss, now);
    const auto got = sc.check(tuple(), SeqNum{1000}, made.isn, now);
    EXPECT_EQ(got.reject, CookieReject::kNone) << mss;
    EXPECT_EQ(got.mss, made.mss);
    EXPECT_LE(made.mss, std::max<std::uint16_t>(mss, 536));
  }
  const auto v6 = tuple("2001:db8::10", 50000, "2001:db8:1::1", 443);
  const auto made6 = sc.make(v6, SeqNum{7}, 8960, now);
  EXPECT_EQ(made6.mss, 8940);
  EXPECT_EQ(sc.check(v6, SeqNum{7}, made6.isn, now).reject, CookieReject::kNone);
}

TEST(SynCookies, AnyChangeToTheTupleIsnOrCookieIsRejected) {
  const SynCookies sc({}, CookieKeys{key(1), {}, false});
  const seconds now{1'800'000'000};
  const auto made = sc.make(tuple(), SeqNum{1000}, 1460, now);
  EXPECT_EQ(sc.check(tuple("192.0.2.11"), SeqNum{1000}, made.isn, now).reject,
            CookieReject::kBadHash);
  EXPECT_EQ(sc.check(tuple("192.0.2.10", 40001), SeqNum{1000}, made.isn, now).reject,
            CookieReject::kBadHash);
  EXPECT_EQ(
      sc.check(tuple("192.0.2.10", 40000, "198.51.100.2"), SeqNum{1000}, made.isn, now).reject,
      CookieReject::kBadHash);
  EXPECT_EQ(sc.check(tuple(), SeqNum{1001}, made.isn, now).reject, CookieReject::kBadHash);
  EXPECT_EQ(sc.check(tuple(), SeqNum{1000}, made.isn + 1, now).reject, CookieReject::kBadHash);
  // An MSS index past the 4-entry table.
  const SeqNum bad_idx{(made.isn.raw() & ~0x07000000U) | 0x07000000U};
  EXPECT_EQ(sc.check(tuple(), SeqNum{1000}, bad_idx, now).reject, CookieReject::kBadMssIndex);
}

TEST(SynCookies, AcceptsTheCurrentAndPreviousWindowOnly) {
  const SynCookies sc({}, CookieKeys{key(1), {}, false});
  const seconds t0{64 * 1000};  // start of a window
  const auto made = sc.make(tuple(), SeqNum{1}, 1460, t0);
  EXPECT_EQ(sc.check(tuple(), SeqNum{1}, made.isn, t0 + seconds(63)).reject, CookieReject::kNone);
  EXPECT_EQ(sc.check(tuple(), SeqNum{1}, made.isn, t0 + seconds(127)).reject, CookieReject::kNone);
  EXPECT_EQ(sc.check(tuple(), SeqNum{1}, made.isn, t0 + seconds(128)).reject, CookieReject::kStale);
  EXPECT_EQ(sc.check(tuple(), SeqNum{1}, made.isn, t0 - seconds(1)).reject,
            CookieReject::kStale);  // from the future
  // 32 windows later the 5-bit counter wraps to the same value, but the hash covers the full
  // counter: still rejected.
  EXPECT_NE(sc.check(tuple(), SeqNum{1}, made.isn, t0 + seconds(64 * 32)).reject,
            CookieReject::kNone);
}

TEST(SynCookies, RotationKeepsThePreviousKeyForOneRound) {
  SynCookies sc({}, CookieKeys{key(1), {}, false});
  const seconds now{1'800'000'000};
  const auto made = sc.make(tuple(), SeqNum{5}, 1460, now);
  sc.rotate(key(2));
  EXPECT_EQ(sc.check(tuple(), SeqNum{5}, made.isn, now).reject, CookieReject::kNone);
  sc.rotate(key(3));
  EXPECT_EQ(sc.check(tuple(), SeqNum{5}, made.isn, now).reject, CookieReject::kBadHash);
}

TEST(SynCookies, GatewaysSharingTheKeyValidateEachOthersCookies) {
  // Two instances behind ECMP: the SYN went through one, the ACK through the other.
  const CookieKeys shared{key(9), key(8), true};
  const SynCookies a({}, shared);
  const SynCookies b({}, shared);
  const SynCookies other({}, CookieKeys{key(10), {}, false});
  const seconds now{1'800'000'000};
  const auto made = a.make(tuple(), SeqNum{77}, 1440, now);
  EXPECT_EQ(b.check(tuple(), SeqNum{77}, made.isn, now + seconds(30)).reject, CookieReject::kNone);
  EXPECT_EQ(b.check(tuple(), SeqNum{77}, made.isn, now).mss, 1440);
  EXPECT_EQ(other.check(tuple(), SeqNum{77}, made.isn, now).reject, CookieReject::kBadHash);
}

// A blind ACK forges a cookie only by matching the counter (2 of 32 values accepted), the MSS
// index (4 of 8) and the 24-bit hash: p = 2/32 * 4/8 * 2^-24 = 2^-29 ~ 1.9e-9 per ACK, twice
// that (2^-28) while a previous key is accepted, as here. Ten million random ACKs expect 0.037
// acceptances; P(3 or more) < 1e-5.
TEST(SynCookies, RandomAcksAreAcceptedNoMoreOftenThanTheBound) {
  const SynCookies sc({}, CookieKeys{key(4), key(5), true});
  const seconds now{1'800'000'000};
  std::mt19937_64 rng(2026);
  int accepted = 0;
  int stale = 0;
  int bad_idx = 0;
  constexpr int kTrials = 10'000'000;
  const FlowKey t = tuple();
  for (int i = 0; i < kTrials; ++i) {
    const auto r = rng();
    const auto res = sc.check(t, SeqNum{static_cast<std::uint32_t>(r)},
                              SeqNum{static_cast<std::uint32_t>(r >> 32)}, now);
    accepted += res.reject == CookieReject::kNone ? 1 : 0;
    stale += res.reject == CookieReject::kStale ? 1 : 0;
    bad_idx += res.reject == CookieReject::kBadMssIndex ? 1 : 0;
  }
  std::printf("random ACKs: %d accepted of %d (bound 2^-28 per ACK -> %.3f expected)\n", accepted,
              kTrials, kTrials / 268435456.0);
  EXPECT_LE(accepted, 2);
  // The rejection reasons split as the layout predicts: 30/32 stale, then half a bad index.
  EXPECT_NEAR(static_cast<double>(stale) / kTrials, 30.0 / 32, 0.002);
  EXPECT_NEAR(static_cast<double>(bad_idx) / kTrials, 2.0 / 32 / 2, 0.002);
}

// An informed attacker knows the time (so the counter) and the layout (so a valid MSS index):
// only the 24-bit hash is left to guess, against two keys: p = 2 * 2^-24 = 2^-23 per ACK.
// Eight million such ACKs expect 0.95 acceptances; P(7 or more) < 1e-4 (fixed seed).
TEST(SynCookies, InformedForgeriesAreBoundedByTheHashWidth) {
  const SynCookies sc({}, CookieKeys{key(4), key(5), true});
  const seconds now{1'800'000'000};
  const std::uint32_t counter = static_cast<std::uint32_t>(now.count() / 64) & 31U;
  std::mt19937_64 rng(99);
  int accepted = 0;
  constexpr int kTrials = 8'000'000;
  const FlowKey t = tuple();
  for (int i = 0; i < kTrials; ++i) {
    const auto r = rng();
    const std::uint32_t cookie = (counter << 27) | (static_cast<std::uint32_t>(r % 4) << 24) |
                                 static_cast<std::uint32_t>((r >> 8) & 0xffffff);
    const auto res = sc.check(t, SeqNum{static_cast<std::uint32_t>(r >> 32)}, SeqNum{cookie}, now);
    ASSERT_NE(res.reject, CookieReject::kStale);
    ASSERT_NE(res.reject, CookieReject::kBadMssIndex);
    accepted += res.reject == CookieReject::kNone ? 1 : 0;
  }
  std::printf("informed forgeries: %d accepted of %d (2^-23 per ACK -> %.2f expected)\n", accepted,
              kTrials, kTrials / 8388608.0);
  EXPECT_LE(accepted, 6);
}

TEST(CookieTimestamps, CarryTheClientsOptionsAndNeverRunAhead) {
  for (std::uint32_t now : {0x12345678U, 0x40U, 0xffffffffU}) {
    const CookieTsOptions in{true, 7, true, false};
    const std::uint32_t tsval = encodeCookieTsval(now, in);
    EXPECT_FALSE(SeqNum{tsval}.after(SeqNum{now})) << now;
    EXPECT_LT(SeqNum{now} - SeqNum{tsval}, 1024);
    const CookieTsOptions out = decodeCookieTsecr(tsval);
    EXPECT_TRUE(out.has_wscale);
    EXPECT_EQ(out.wscale, 7);
    EXPECT_TRUE(out.sack_permitted);
    EXPECT_FALSE(out.ecn);
  }
  const CookieTsOptions none = decodeCookieTsecr(encodeCookieTsval(1000, {false, 0, false, true}));
  EXPECT_FALSE(none.has_wscale);
  EXPECT_TRUE(none.ecn);
  EXPECT_FALSE(none.has_our_wscale);
  const CookieTsOptions both =
      decodeCookieTsecr(encodeCookieTsval(0x7654321U, {true, 14, false, false, true, 9}));
  EXPECT_EQ(both.wscale, 14);
  EXPECT_TRUE(both.has_our_wscale);
  EXPECT_EQ(both.our_wscale, 9);
}

TEST(MssTable, PicksTheLargestEntryNotAboveTheClient) {
  const MssTable t = MssTable::defaultV4();
  EXPECT_EQ(t.values[t.indexFor(1460)], 1460);
  EXPECT_EQ(t.values[t.indexFor(1459)], 1440);
  EXPECT_EQ(t.values[t.indexFor(1300)], 1300);
  EXPECT_EQ(t.values[t.indexFor(600)], 536);
  EXPECT_EQ(t.values[t.indexFor(100)], 536);
}

}  // namespace
}  // namespace synguard::engine
