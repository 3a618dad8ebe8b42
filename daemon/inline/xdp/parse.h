/* The frames the program answers, and nothing else: Ethernet, at most one 802.1Q tag, IPv4
 * without options, not a fragment, with a correct header checksum, or IPv6 without extension
 * headers; a TCP header whose options parse exactly as engine/packet/segment.cc parses them.
 * Every read is checked against data_end; any doubt is a pass with its reason. */
#ifndef SYNGUARD_DAEMON_INLINE_XDP_PARSE_H_
#define SYNGUARD_DAEMON_INLINE_XDP_PARSE_H_

/* The kernel UAPI headers first: libbpf's helper declarations need their types. */
/* clang-format off */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/types.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
/* clang-format on */

#include "daemon/inline/xdp/xdp_abi.h"

#define SG_ETH_P_8021Q 0x8100
#define SG_ETH_P_8021AD 0x88a8

/* TCP flag bits (RFC 9293 section 3.1, RFC 3168 section 6.1). */
#define SG_TCP_FIN 0x01
#define SG_TCP_SYN 0x02
#define SG_TCP_ACK 0x10
#define SG_TCP_ECE 0x40
#define SG_TCP_CWR 0x80

/* What the program keeps of a frame. */
struct sg_pkt {
  __u32 l3;      /* offset of the IP header: 14, or 18 with a VLAN tag */
  __u32 ip_hlen; /* 20 or 40 */
  __u32 ip_len;  /* IP bytes per the header (total length / 40 + payload length) */
  __u32 tcp_hlen;
  __u32 payload; /* TCP payload bytes */
  __u8 v6;
  __u8 flags;    /* TCP flags byte */
  __u8 reserved; /* TCP byte 12 low nibble (reserved bits and AE) */
  __u8 pad;
  __u16 sport; /* host order */
  __u16 dport;
  __u32 seq; /* host order */
  /* Raw (network order) addresses: IPv4 in word 0, IPv6 in all four. */
  __u32 saddr[4];
  __u32 daddr[4];
};

/* The options the SYN-ACK depends on (TcpOptions of segment.h). */
struct sg_opts {
  __u8 has_mss;
  __u8 has_ws;
  __u8 sack;
  __u8 has_ts;
  __u8 ws;
  __u8 pad[1];
  __u16 mss;
  __u32 ts_val;
};

/* IPv6 extension headers (RFC 8200 section 4, RFC 5533/7401, IANA) and AH/ESP: "unusual"
 * rather than "not TCP". */
static __always_inline int sg_is_ext_header(__u8 nh) {
  return nh == 0 || nh == 43 || nh == 44 || nh == 50 || nh == 51 || nh == 60 || nh == 135 ||
         nh == 139 || nh == 140 || nh == 253 || nh == 254;
}

static __always_inline __u16 sg_fold(__u64 sum) {
  sum = (sum & 0xffffffffULL) + (sum >> 32);
  sum = (sum & 0xffffffffULL) + (sum >> 32);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return (__u16)sum;
}

/* Ethernet, VLAN, IP and the TCP header (not its options). Returns -1 to go on, else the
 * counter of the pass. */
static __always_inline int sg_parse_headers(void* data, void* data_end, struct sg_pkt* p) {
  struct ethhdr* eth = data;
  if ((void*)(eth + 1) > data_end) {
    return SG_XDP_PASS_MALFORMED;
  }
  __u16 proto = eth->h_proto;
  __u32 l3 = sizeof(struct ethhdr);
  if (proto == bpf_htons(SG_ETH_P_8021Q)) {
    __be16* inner = data + l3 + 2;
    if ((void*)(inner + 1) > data_end) {
      return SG_XDP_PASS_MALFORMED;
    }
    proto = *inner;
    l3 += 4;
  }
  p->l3 = l3;
  if (proto == bpf_htons(ETH_P_IP)) {
    struct iphdr* ip = data + l3;
    if ((void*)(ip + 1) > data_end) {
      return SG_XDP_PASS_MALFORMED;
    }
    if (ip->version != 4 || ip->ihl < 5) {
      return SG_XDP_PASS_MALFORMED;
    }
    if (ip->ihl != 5) {
      return SG_XDP_PASS_IP_UNUSUAL; /* options */
    }
    __u32 tot = bpf_ntohs(ip->tot_len);
    if (tot < 20 || data + l3 + tot > data_end) {
      return SG_XDP_PASS_MALFORMED;
    }
    if (ip->frag_off & bpf_htons(0x3fff)) {
      return SG_XDP_PASS_IP_UNUSUAL; /* MF or an offset */
    }
    if (ip->protocol != IPPROTO_TCP) {
      return SG_XDP_PASS_NOT_TCP;
    }
    /* RFC 1071: the header's words sum to 0xffff. */
    const __u32* w = (const __u32*)ip;
    __u64 sum = (__u64)w[0] + w[1] + w[2] + w[3] + w[4];
    if (sg_fold(sum) != 0xffff) {
      return SG_XDP_PASS_MALFORMED;
    }
    p->v6 = 0;
    p->ip_hlen = 20;
    p->ip_len = tot;
    p->saddr[0] = ip->saddr;
    p->daddr[0] = ip->daddr;
  } else if (proto == bpf_htons(ETH_P_IPV6)) {
    struct ipv6hdr* ip6 = data + l3;
    if ((void*)(ip6 + 1) > data_end) {
      return SG_XDP_PASS_MALFORMED;
    }
    if (ip6->version != 6) {
      return SG_XDP_PASS_MALFORMED;
    }
    __u32 plen = bpf_ntohs(ip6->payload_len);
    if (plen == 0 || data + l3 + 40 + plen > data_end) {
      return SG_XDP_PASS_MALFORMED; /* jumbograms too (RFC 2675) */
    }
    if (ip6->nexthdr != IPPROTO_TCP) {
      return sg_is_ext_header(ip6->nexthdr) ? SG_XDP_PASS_IP_UNUSUAL : SG_XDP_PASS_NOT_TCP;
    }
    /* IPv4-mapped addresses (::ffff:0:0/96): the engine takes them for IPv4 (its cookie
     * message, MSS table and lists then differ from an IPv6 packet's): its call. */
    if ((ip6->saddr.in6_u.u6_addr32[0] | ip6->saddr.in6_u.u6_addr32[1]) == 0 &&
        ip6->saddr.in6_u.u6_addr32[2] == bpf_htonl(0xffff)) {
      return SG_XDP_PASS_IP_UNUSUAL;
    }
    if ((ip6->daddr.in6_u.u6_addr32[0] | ip6->daddr.in6_u.u6_addr32[1]) == 0 &&
        ip6->daddr.in6_u.u6_addr32[2] == bpf_htonl(0xffff)) {
      return SG_XDP_PASS_IP_UNUSUAL;
    }
    p->v6 = 1;
    p->ip_hlen = 40;
    p->ip_len = 40 + plen;
    __builtin_memcpy(p->saddr, &ip6->saddr, 16);
    __builtin_memcpy(p->daddr, &ip6->daddr, 16);
  } else {
    return SG_XDP_PASS_NOT_IP; /* ARP, LLDP, a second tag (QinQ)... */
  }
  struct tcphdr* tcp = data + l3 + p->ip_hlen;
  if ((void*)(tcp + 1) > data_end || p->ip_hlen + 20 > p->ip_len) {
    return SG_XDP_PASS_MALFORMED;
  }
  __u32 hlen = (__u32)tcp->doff * 4;
  if (hlen < 20 || p->ip_hlen + hlen > p->ip_len) {
    return SG_XDP_PASS_MALFORMED;
  }
  p->tcp_hlen = hlen;
  p->payload = p->ip_len - p->ip_hlen - hlen;
  const __u8* b = (const __u8*)tcp;
  p->flags = b[13];
  p->reserved = b[12] & 0x0f;
  p->sport = bpf_ntohs(tcp->source);
  p->dport = bpf_ntohs(tcp->dest);
  p->seq = bpf_ntohl(tcp->seq);
  return -1;
}

/* The fast path: the options exactly as Linux sends them in a SYN (MSS, SACK-permitted,
 * timestamps, NOP, window scale: 20 bytes), which parse as the general walk would parse them.
 * 1 taken, 0 not this layout. */
static __always_inline int sg_linux_options(const __u32* tcpw, __u32 hlen, void* data_end,
                                            struct sg_opts* o) {
  if (hlen != 40 || (const void*)(tcpw + 10) > data_end) {
    return 0;
  }
  const __u8* q = (const __u8*)(tcpw + 5);
  if (q[0] != 2 || q[1] != 4 || q[4] != 4 || q[5] != 2 || q[6] != 8 || q[7] != 10 || q[16] != 1 ||
      q[17] != 3 || q[18] != 3) {
    return 0;
  }
  o->has_mss = 1;
  o->mss = (__u16)((q[2] << 8) | q[3]);
  o->sack = 1;
  o->has_ts = 1;
  o->ts_val = ((__u32)q[8] << 24) | ((__u32)q[9] << 16) | ((__u32)q[10] << 8) | q[11];
  o->has_ws = 1;
  o->ws = q[19];
  return 1;
}

/* RFC 9293 section 3.2 options of the TCP header at `tcp_off` (`hlen` bytes), as segment.cc's
 * parseOptions reads them; anything it might read otherwise (a duplicate, of which it keeps
 * the later one, a SACK block in a SYN) is refused: 0 taken, -1 refused.
 *
 * Verifier notes: a global function, checked once rather than once per path through its caller;
 * what it has seen is kept in *o (memory behind an argument, whose values the verifier does
 * not track), so its states differ only by the position and converge. Inlined, or with the
 * flags in registers, the walk outgrew the verifier's 1M-instruction and 8192-branch limits. */
__noinline int sg_parse_options(struct xdp_md* ctx, __u32 tcp_off, __u32 hlen, struct sg_opts* o) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  if (!o || tcp_off > 58 || hlen > 60) {
    return -1;
  }
  /* The mask, in asm so clang cannot drop it as redundant, gives the verifier the bound. */
  __u64 off = tcp_off;
  __u64 end = hlen;
  asm volatile("%[o] &= 0x3f" : [o] "+r"(off));
  asm volatile("%[e] &= 0x3f" : [e] "+r"(end));
  const __u8* opt = data + off;
  __u64 i = 20;
  for (;;) { /* i grows by at least 1 a round, up to hlen <= 60 */
    if (i >= end) {
      return 0;
    }
    const __u8* q = opt + (i & 0x3f);
    if ((const void*)(q + 1) > data_end) {
      return -1;
    }
    __u8 kind = q[0];
    if (kind == 0) { /* End of Option List: the engine stops reading here */
      return 0;
    }
    if (kind == 1) { /* No-Operation */
      i++;
      continue;
    }
    if (i + 1 >= end || (const void*)(q + 2) > data_end) {
      return -1; /* no room for the length byte */
    }
    __u64 l = q[1];
    if (l < 2 || i + l > end) {
      return -1;
    }
    switch (kind) {
      case 2: /* MSS, RFC 9293 section 3.2 */
        if (l != 4 || o->has_mss || (const void*)(q + 4) > data_end) {
          return -1;
        }
        o->has_mss = 1;
        o->mss = (__u16)((q[2] << 8) | q[3]);
        break;
      case 3: /* Window scale, RFC 7323 section 2.2 */
        if (l != 3 || o->has_ws || (const void*)(q + 3) > data_end) {
          return -1;
        }
        o->has_ws = 1;
        o->ws = q[2];
        break;
      case 4: /* SACK-permitted, RFC 2018 section 2 */
        if (l != 2 || o->sack) {
          return -1;
        }
        o->sack = 1;
        break;
      case 5: /* SACK blocks in a SYN: the engine's checks are not worth repeating here */
        return -1;
      case 8: /* Timestamps, RFC 7323 section 3.2 */
        if (l != 10 || o->has_ts || (const void*)(q + 10) > data_end) {
          return -1;
        }
        o->has_ts = 1;
        o->ts_val = ((__u32)q[2] << 24) | ((__u32)q[3] << 16) | ((__u32)q[4] << 8) | q[5];
        break;
      default: /* unknown, with a sane length: skipped */
        break;
    }
    i += l;
  }
}

#endif /* SYNGUARD_DAEMON_INLINE_XDP_PARSE_H_ */
