#include "engine/protect/syn_cookie.h"

#include <algorithm>

namespace synguard::engine {

namespace {
constexpr std::uint32_t kCounterShift = 27;  // 5 bits of time counter
constexpr std::uint32_t kMssShift = 24;      // 3 bits of MSS index
constexpr std::uint32_t kHashMask = 0x00ffffff;
constexpr std::uint32_t kTsMask = (1U << kCookieTsBits) - 1;  // low TSval bits carry the options
constexpr std::uint8_t kNoWscale = 0x0f;                      // 4-bit "no window scale"

/// Eight address bytes as SipHash reads a message: little-endian, whatever the host.
std::uint64_t le64(const std::array<std::uint8_t, 16>& b, std::size_t at) noexcept {
  std::uint64_t v = 0;
  for (std::size_t k = 8; k-- > 0;) {
    v = (v << 8) | b[at + k];
  }
  return v;
}
}  // namespace

std::string_view toString(CookieReject r) noexcept {
  switch (r) {
    case CookieReject::kNone:
      return "none";
    case CookieReject::kStale:
      return "stale";
    case CookieReject::kBadMssIndex:
      return "bad_mss_index";
    case CookieReject::kBadHash:
      return "bad_hash";
    case CookieReject::kCount:
      break;
  }
  return "unknown";
}

std::uint8_t MssTable::indexFor(std::uint16_t client_mss) const noexcept {
  std::uint8_t best = 0;
  for (std::uint8_t i = 0; i < size; ++i) {
    if (values[i] <= client_mss) {
      best = i;
    }
  }
  return best;
}

std::uint32_t SynCookies::hash(const SipKey& key, const FlowKey& t, std::uint32_t counter,
                               SeqNum isn, std::uint32_t idx) const noexcept {
  // The message, as 64-bit words (SipHash reads them little-endian):
  //   IPv4: [orig addr | resp addr] [ports | counter] [ISN | family 4 | MSS index]   24 bytes
  //   IPv6: [orig addr: 2 words] [resp addr: 2 words] [ports | counter] [ISN | 6 | idx] 48 bytes
  const std::uint64_t ports_counter =
      (std::uint64_t{(std::uint32_t{t.orig_port} << 16) | t.resp_port} << 32) | counter;
  if (t.orig_addr.isV4()) {
    const std::array<std::uint64_t, 3> m{
        (std::uint64_t{t.orig_addr.v4HostOrder()} << 32) | t.resp_addr.v4HostOrder(), ports_counter,
        (std::uint64_t{isn.raw()} << 32) | (4U << 8) | idx};
    return static_cast<std::uint32_t>(sipHash24Words(key, m)) & kHashMask;
  }
  const std::array<std::uint64_t, 6> m{le64(t.orig_addr.bytes(), 0),
                                       le64(t.orig_addr.bytes(), 8),
                                       le64(t.resp_addr.bytes(), 0),
                                       le64(t.resp_addr.bytes(), 8),
                                       ports_counter,
                                       (std::uint64_t{isn.raw()} << 32) | (6U << 8) | idx};
  return static_cast<std::uint32_t>(sipHash24Words(key, m)) & kHashMask;
}

SynCookies::Made SynCookies::make(const FlowKey& tuple, SeqNum client_isn, std::uint16_t client_mss,
                                  std::uint32_t counter) const noexcept {
  const MssTable& tbl = table(tuple);
  const std::uint32_t idx = tbl.indexFor(client_mss);
  const std::uint32_t cookie = ((counter & 0x1f) << kCounterShift) | (idx << kMssShift) |
                               hash(keys_.current, tuple, counter, client_isn, idx);
  return Made{SeqNum{cookie}, tbl.values[idx]};
}

SynCookies::Checked SynCookies::check(const FlowKey& tuple, SeqNum client_isn, SeqNum cookie,
                                      std::uint32_t now) const noexcept {
  const std::uint32_t c = cookie.raw();
  const std::uint32_t t5 = c >> kCounterShift;
  // The full counter is the newest one within the accepted age whose low 5 bits match.
  std::uint32_t counter = 0;
  bool found = false;
  for (std::uint32_t age = 0; age <= cfg_.max_age_windows && age <= kMaxCookieAgeWindows; ++age) {
    if (((now - age) & 0x1f) == t5) {
      counter = now - age;
      found = true;
      break;
    }
  }
  if (!found) {
    return Checked{CookieReject::kStale, 0};
  }
  const MssTable& tbl = table(tuple);
  const std::uint32_t idx = (c >> kMssShift) & 0x7;
  if (idx >= tbl.size) {
    return Checked{CookieReject::kBadMssIndex, 0};
  }
  const std::uint32_t h = c & kHashMask;
  if (hash(keys_.current, tuple, counter, client_isn, idx) == h ||
      (keys_.has_previous && hash(keys_.previous, tuple, counter, client_isn, idx) == h)) {
    return Checked{CookieReject::kNone, tbl.values[idx]};
  }
  return Checked{CookieReject::kBadHash, 0};
}

std::uint32_t encodeCookieTsval(std::uint32_t ts_now, const CookieTsOptions& o) noexcept {
  std::uint32_t bits = o.has_wscale ? std::min<std::uint32_t>(o.wscale, 14) : kNoWscale;
  bits |= o.sack_permitted ? 0x10U : 0U;
  bits |= o.ecn ? 0x20U : 0U;
  bits |= (o.has_our_wscale ? std::min<std::uint32_t>(o.our_wscale, 14) : kNoWscale) << 6;
  std::uint32_t ts = (ts_now & ~kTsMask) | bits;
  if (SeqNum{ts}.after(SeqNum{ts_now})) {
    ts -= kTsMask + 1;  // never a timestamp from the future (RFC 7323 PAWS at the client)
  }
  return ts;
}

CookieTsOptions decodeCookieTsecr(std::uint32_t tsecr) noexcept {
  CookieTsOptions o;
  const std::uint32_t ws = tsecr & 0x0f;
  o.has_wscale = ws != kNoWscale;
  o.wscale = o.has_wscale ? static_cast<std::uint8_t>(ws) : 0;
  o.sack_permitted = (tsecr & 0x10U) != 0;
  o.ecn = (tsecr & 0x20U) != 0;
  const std::uint32_t ours = (tsecr >> 6) & 0x0f;
  o.has_our_wscale = ours != kNoWscale;
  o.our_wscale = o.has_our_wscale ? static_cast<std::uint8_t>(ours) : 0;
  return o;
}

}  // namespace synguard::engine
