/* The SYN cookie and the SYN-ACK TSval, as engine/protect/syn_cookie.cc makes them:
 *
 *    31      27 26  24 23                                              0
 *   +----------+------+-------------------------------------------------+
 *   | t mod 32 | mss  |  SipHash-2-4(key; addrs, ports, t, client ISN,   |
 *   |  5 bits  | idx  |              mss idx) low 24 bits               |
 *   +----------+------+-------------------------------------------------+
 *
 * Message words (SipHash reads them little-endian, SynCookies::hash):
 *   IPv4: [orig addr | resp addr] [ports | counter] [ISN | family 4 | MSS index]
 *   IPv6: [orig addr: 2 words] [resp addr: 2 words] [ports | counter] [ISN | 6 | idx]
 * orig = the client (the SYN's source), resp = the service. */
#ifndef SYNGUARD_DAEMON_INLINE_XDP_COOKIE_H_
#define SYNGUARD_DAEMON_INLINE_XDP_COOKIE_H_

#include <linux/types.h>

#include "daemon/inline/xdp/siphash.h"
#include "daemon/inline/xdp/xdp_abi.h"

/* MssTable::indexFor: the largest entry not above the client's MSS (entry 0 if all are). */
static __always_inline __u32 sg_mss_index(const __u16* values, __u32 n, __u16 client_mss) {
  __u32 best = 0;
#pragma unroll
  for (__u32 i = 0; i < SG_XDP_MAX_MSS; i++) {
    if (i < n && values[i] <= client_mss) {
      best = i;
    }
  }
  return best;
}

/* Addresses in host order (IPv4), ports in host order. */
static __always_inline __u32 sg_cookie_v4(const struct sg_xdp_key* key, __u32 saddr, __u32 daddr,
                                          __u16 sport, __u16 dport, __u32 counter, __u32 isn,
                                          __u32 idx) {
  struct sg_sip s;
  sg_sip_init(&s, key);
  sg_sip_word(&s, ((__u64)saddr << 32) | daddr);
  sg_sip_word(&s, ((__u64)(((__u32)sport << 16) | dport) << 32) | counter);
  sg_sip_word(&s, ((__u64)isn << 32) | (4U << 8) | idx);
  __u32 h = (__u32)sg_sip_finish(&s, 24) & 0x00ffffffU;
  return ((counter & 0x1fU) << 27) | (idx << 24) | h;
}

/* s64/d64: the addresses' bytes read as little-endian 64-bit words (le64 in syn_cookie.cc). */
static __always_inline __u32 sg_cookie_v6(const struct sg_xdp_key* key, const __u64* s64,
                                          const __u64* d64, __u16 sport, __u16 dport, __u32 counter,
                                          __u32 isn, __u32 idx) {
  struct sg_sip s;
  sg_sip_init(&s, key);
  sg_sip_word(&s, s64[0]);
  sg_sip_word(&s, s64[1]);
  sg_sip_word(&s, d64[0]);
  sg_sip_word(&s, d64[1]);
  sg_sip_word(&s, ((__u64)(((__u32)sport << 16) | dport) << 32) | counter);
  sg_sip_word(&s, ((__u64)isn << 32) | (6U << 8) | idx);
  __u32 h = (__u32)sg_sip_finish(&s, 48) & 0x00ffffffU;
  return ((counter & 0x1fU) << 27) | (idx << 24) | h;
}

/* encodeCookieTsval: `ts_now` with its low 10 bits replaced by
 *     9       6 5   4   3        0
 *    +---------+---+----+----------+
 *    | our ws  |ECN|SACK| client ws|   (4-bit shifts, 0xF = none)
 *    +---------+---+----+----------+
 * and never ahead of ts_now (RFC 7323 PAWS at the client). */
static __always_inline __u32 sg_cookie_tsval(__u32 ts_now, int has_ws, __u32 ws, int sack, int ecn,
                                             int has_our_ws, __u32 our_ws) {
  __u32 bits = has_ws ? (ws < 14 ? ws : 14) : 0x0f;
  bits |= sack ? 0x10U : 0U;
  bits |= ecn ? 0x20U : 0U;
  bits |= (has_our_ws ? (our_ws < 14 ? our_ws : 14) : 0x0fU) << 6;
  __u32 ts = (ts_now & ~0x3ffU) | bits;
  if ((__s32)(ts - ts_now) > 0) {
    ts -= 0x400;
  }
  return ts;
}

#endif /* SYNGUARD_DAEMON_INLINE_XDP_COOKIE_H_ */
