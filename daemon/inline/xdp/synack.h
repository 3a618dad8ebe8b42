/* The SYN turned into the engine's cookie SYN-ACK in place, byte for byte what
 * engine/packet/tcp_writer.cc writes for Protector::sendCookie's TcpOut:
 *   IPv4: version 4, IHL 5, TOS 0, ID 0, DF, TTL 64, protocol 6, header checksum;
 *   IPv6: version 6, traffic class 0, flow label 0, hop limit 64;
 *   TCP: ports swapped, seq = cookie, ack = client ISN + 1, data offset, SYN|ACK (|ECE),
 *   window, checksum, urgent 0, then the options in writeOptions' order and padding:
 *     MSS (4) [SACK-perm (2) | NOP NOP] TS (10) | NOP NOP SACK-perm (2) ; NOP WS (3)
 * The Ethernet header keeps its VLAN tag, with the MACs swapped. */
#ifndef SYNGUARD_DAEMON_INLINE_XDP_SYNACK_H_
#define SYNGUARD_DAEMON_INLINE_XDP_SYNACK_H_

/* The kernel UAPI headers first: libbpf's helper declarations need their types. */
/* clang-format off */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/types.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
/* clang-format on */

#include "daemon/inline/xdp/parse.h"

/* What the SYN-ACK carries besides what the SYN gave. */
struct sg_answer {
  __u32 seq;    /* the cookie */
  __u32 ack;    /* client ISN + 1 */
  __u16 window; /* 0 (hold_with_zero_window) or 65535 */
  __u16 mss;    /* 0: no MSS option */
  __u8 flags;   /* SYN|ACK, |ECE */
  __u8 has_ts;
  __u8 sack;
  __u8 has_ws;
  __u8 ws;
  __u8 pad[3];
  __u32 ts_val;
  __u32 ts_ecr;
};

/* The option words (network byte order in memory), n of them. Each word's place is worked out
 * case by case: the verifier refuses a variable index into the stack, which appending to an
 * array compiles to. */
struct sg_optw {
  __u32 w0, w1, w2, w3, w4;
  __u32 n;
};

static __always_inline void sg_options(const struct sg_answer* a, struct sg_optw* o) {
  const __u32 ws = a->has_ws ? bpf_htonl(0x01030300U | a->ws) : 0;
  __u32 a0 = 0, a1 = 0, a2 = 0, a3 = 0, n = a->has_ws ? 1 : 0;
  if (a->has_ts) {
    a0 = bpf_htonl(a->sack ? 0x0402080aU : 0x0101080aU);
    a1 = bpf_htonl(a->ts_val);
    a2 = bpf_htonl(a->ts_ecr);
    a3 = ws;
    n += 3;
  } else if (a->sack) {
    a0 = bpf_htonl(0x01010402U);
    a1 = ws;
    n += 1;
  } else {
    a0 = ws;
  }
  if (a->mss != 0) {
    o->w0 = bpf_htonl(0x02040000U | a->mss);
    o->w1 = a0;
    o->w2 = a1;
    o->w3 = a2;
    o->w4 = a3;
    n += 1;
  } else {
    o->w0 = a0;
    o->w1 = a1;
    o->w2 = a2;
    o->w3 = a3;
    o->w4 = 0;
  }
  o->n = n;
}

/* Rewrites the frame `p` was parsed from; returns XDP_TX, or -1 (the frame untouched) when it
 * cannot be resized to the SYN-ACK's length. */
static __always_inline int sg_write_synack(struct xdp_md* ctx, const struct sg_pkt* p,
                                           const struct sg_answer* a) {
  struct sg_optw w;
  sg_options(a, &w);
  const __u32 nw = w.n;
  __u32 tcp_len = 20 + nw * 4;
  __u32 l3 = p->l3 == 18 ? 18 : 14;
  __u32 ip_hlen = p->v6 ? 40 : 20;
  __u32 new_len = l3 + ip_hlen + tcp_len;
  int delta = (int)new_len - (int)(ctx->data_end - ctx->data);
  if (delta != 0 && bpf_xdp_adjust_tail(ctx, delta) != 0) {
    return -1;
  }
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  /* Every bound is checked before the first write; after the adjustment none can fail (the
   * verifier wants them said): if one did, the frame is dropped, never sent half-written. */
  struct ethhdr* eth = data;
  __u32* ipw = data + l3;
  __u32* tcpw = data + l3 + ip_hlen;
  if ((void*)(eth + 1) > data_end || (p->v6 && (void*)(ipw + 10) > data_end) ||
      (void*)(ipw + 5) > data_end || (void*)(tcpw + 5) > data_end) {
    return XDP_ABORTED;
  }
#pragma unroll
  for (__u32 k = 0; k < 5; k++) {
    if (k < nw && (void*)(tcpw + 6 + k) > data_end) {
      return XDP_ABORTED;
    }
  }

  /* Ethernet: swap the MACs (the VLAN tag, if any, stays). */
  __u8 mac[ETH_ALEN];
  __builtin_memcpy(mac, eth->h_dest, ETH_ALEN);
  __builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
  __builtin_memcpy(eth->h_source, mac, ETH_ALEN);

  __u64 sum = 0; /* the TCP checksum's pseudo-header and header, in memory order */
  if (!p->v6) {
    __u8* ip = (__u8*)ipw;
    ip[0] = 0x45;
    ip[1] = 0;
    *(__u16*)(ip + 2) = bpf_htons((__u16)(20 + tcp_len));
    *(__u16*)(ip + 4) = 0;
    *(__u16*)(ip + 6) = bpf_htons(0x4000); /* DF, ID 0 (RFC 6864 section 4.1) */
    ip[8] = 64;
    ip[9] = IPPROTO_TCP;
    *(__u16*)(ip + 10) = 0;
    ipw[3] = p->daddr[0];
    ipw[4] = p->saddr[0];
    __u64 ipsum = (__u64)ipw[0] + ipw[1] + ipw[2] + ipw[3] + ipw[4];
    *(__u16*)(ip + 10) = (__u16)~sg_fold(ipsum);
    sum = (__u64)p->saddr[0] + p->daddr[0];
  } else {
    if ((void*)(ipw + 10) > data_end) {
      return XDP_ABORTED;
    }
    ipw[0] = bpf_htonl(0x60000000U);
    __u8* ip = (__u8*)ipw;
    *(__u16*)(ip + 4) = bpf_htons((__u16)tcp_len);
    ip[6] = IPPROTO_TCP;
    ip[7] = 64;
#pragma unroll
    for (int k = 0; k < 4; k++) {
      ipw[2 + k] = p->daddr[k];
      ipw[6 + k] = p->saddr[k];
      sum += (__u64)p->saddr[k] + p->daddr[k];
    }
  }
  sum += bpf_htons(IPPROTO_TCP) + bpf_htons((__u16)tcp_len);
  __u32 h[5];
  h[0] = bpf_htonl(((__u32)p->dport << 16) | p->sport);
  h[1] = bpf_htonl(a->seq);
  h[2] = bpf_htonl(a->ack);
  h[3] = bpf_htonl(((tcp_len / 4) << 28) | ((__u32)a->flags << 16) | a->window);
  h[4] = 0; /* checksum, urgent pointer */
#pragma unroll
  for (int k = 0; k < 5; k++) {
    tcpw[k] = h[k];
    sum += h[k];
  }
  if (nw > 0) {
    tcpw[5] = w.w0;
    sum += w.w0;
  }
  if (nw > 1) {
    tcpw[6] = w.w1;
    sum += w.w1;
  }
  if (nw > 2) {
    tcpw[7] = w.w2;
    sum += w.w2;
  }
  if (nw > 3) {
    tcpw[8] = w.w3;
    sum += w.w3;
  }
  if (nw > 4) {
    tcpw[9] = w.w4;
    sum += w.w4;
  }
  ((__u16*)tcpw)[8] = (__u16)~sg_fold(sum);
  return XDP_TX;
}

#endif /* SYNGUARD_DAEMON_INLINE_XDP_SYNACK_H_ */
