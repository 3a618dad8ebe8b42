/* synguard's XDP fast path: answers SYNs to services in cookie mode with exactly the SYN-ACK
 * the engine would send (same cookie, same options, same bytes), and passes everything else to
 * the kernel's stack and the NFQUEUE path. xdp_abi.h is the layout the daemon writes;
 * xdp_program.cc loads this program through the skeleton bpftool generates from it. */
/* The kernel UAPI headers first: libbpf's helper declarations need their types. */
/* clang-format off */
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
/* clang-format on */

#include "daemon/inline/xdp/cookie.h"
#include "daemon/inline/xdp/parse.h"
#include "daemon/inline/xdp/stats.h"
#include "daemon/inline/xdp/synack.h"
#include "daemon/inline/xdp/xdp_abi.h"

char LICENSE[] SEC("license") = "GPL";

/* Test only (XdpProgram::Options::fixed_clock): read the wall clock from sg_fixed_wall_ns. A
 * .rodata constant, so the verifier removes the branch not taken. */
const volatile __u8 sg_fixed_clock = 0;
__u64 sg_fixed_wall_ns;

/* Double-buffered state (xdp_abi.h): the daemon writes sg_state[!sg_active], then flips. */
struct sg_xdp_state sg_state[2];
__u32 sg_active;
/* Per-service rows, by the engine's service index. */
struct sg_xdp_service sg_svc[SG_XDP_MAX_SERVICES];

/* Service prefixes -> port rows; max_entries set by the loader (Options::lpm_capacity). An
 * entry without rows is a miss (the loader's stop for IPv4 addresses under an IPv6 prefix such
 * as ::/0, which the engine never matches against IPv4); likewise a value 0 in sg_allow and
 * sg_deny. */
struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, 4096);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct sg_xdp_lpm_key);
  __type(value, struct sg_xdp_svc_list);
} sg_services SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, 4096);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct sg_xdp_lpm_key);
  __type(value, __u8);
} sg_allow SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, 4096);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct sg_xdp_lpm_key);
  __type(value, __u8);
} sg_deny SEC(".maps");

#define SG_NO_SVC 0xffffU

static __always_inline int sg_pass(struct xdp_md* ctx, __u32 counter) {
  sg_count(ctx, counter);
  return XDP_PASS;
}

/* The LPM key of an address: IPv4 as ::ffff:a.b.c.d. */
static __always_inline void sg_lpm_key(struct sg_xdp_lpm_key* k, const __u32* a, int v6) {
  __u32* w = (__u32*)k->addr;
  k->prefixlen = 128;
  if (v6) {
    w[0] = a[0];
    w[1] = a[1];
    w[2] = a[2];
    w[3] = a[3];
  } else {
    w[0] = 0;
    w[1] = 0;
    w[2] = bpf_htonl(0x0000ffffU);
    w[3] = a[0];
  }
}

/* ServiceMap::find: the first service, in configuration order, whose prefix holds `key` and
 * whose ports hold `port`. */
static __always_inline __u32 sg_find_service(const struct sg_xdp_svc_list* l, __u16 port) {
  __u32 n = l->n;
#pragma unroll
  for (__u32 i = 0; i < SG_XDP_MAX_PER_PREFIX; i++) {
    if (i < n && port >= l->rows[i].first && port <= l->rows[i].last) {
      return l->rows[i].svc;
    }
  }
  return SG_NO_SVC;
}

/* RFC 9293 section 3.1: the TCP checksum over the pseudo-header and the header (the SYN has
 * no payload here) sums to 0xffff. */
static __always_inline int sg_tcp_checksum_ok(void* data_end, const __u32* tcpw, __u32 hlen,
                                              __u64 pseudo) {
  __u64 sum = pseudo;
  __u32 nw = hlen / 4;
#pragma unroll
  for (__u32 k = 0; k < 15; k++) {
    if (k < nw) {
      if ((const void*)(tcpw + k + 1) > data_end) {
        return 0;
      }
      sum += tcpw[k];
    }
  }
  return sg_fold(sum) == 0xffff;
}

static __always_inline __u32 sg_action_counter(__u8 action) {
  switch (action) {
    case SG_XDP_SVC_PASS_OFF:
      return SG_XDP_PASS_OFF;
    case SG_XDP_SVC_PASS_MONITOR:
      return SG_XDP_PASS_MONITOR;
    case SG_XDP_SVC_PASS_LIMITS:
      return SG_XDP_PASS_LIMITS;
    default:
      return SG_XDP_PASS_NORMAL;
  }
}

SEC("xdp")
int synguard_xdp(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  const struct sg_xdp_state* st = &sg_state[sg_active & 1];
  if (!st->ready) {
    return sg_pass(ctx, SG_XDP_PASS_NOT_READY);
  }

  struct sg_pkt p;
  __builtin_memset(&p, 0, sizeof(p));
  int r = sg_parse_headers(data, data_end, &p);
  if (r >= 0) {
    return sg_pass(ctx, (__u32)r);
  }

  /* The service the destination belongs to. */
  struct sg_xdp_lpm_key key;
  sg_lpm_key(&key, p.daddr, p.v6);
  const struct sg_xdp_svc_list* list = bpf_map_lookup_elem(&sg_services, &key);
  if (!list) {
    return sg_pass(ctx, SG_XDP_PASS_NO_SERVICE);
  }
  if (list->overflow) {
    return sg_pass(ctx, SG_XDP_PASS_OVERFLOW);
  }
  __u32 svc = sg_find_service(list, p.dport);
  if (svc >= SG_XDP_MAX_SERVICES) {
    return sg_pass(ctx, SG_XDP_PASS_NO_SERVICE);
  }
  const struct sg_xdp_service* sv = &sg_svc[svc];

  /* Protector::screen: a deny-listed source's segments to a service are dropped. */
  const int syn = (p.flags & (SG_TCP_SYN | SG_TCP_ACK | SG_TCP_FIN | 0x04)) == SG_TCP_SYN;
  if (st->has_deny && sv->deny_drop) {
    sg_lpm_key(&key, p.saddr, p.v6);
    const __u8* denied = bpf_map_lookup_elem(&sg_deny, &key);
    if (denied && *denied) {
      struct sg_xdp_svc_stats* ss = bpf_map_lookup_elem(&sg_svc_stats, &svc);
      if (ss) {
        ss->denied += 1;
        ss->denied_bytes += p.ip_len;
        ss->denied_syns += syn ? 1 : 0;
      }
      sg_count(ctx, SG_XDP_DROP_DENIED);
      return XDP_DROP;
    }
  }

  /* A plain SYN: SYN, optionally ECE and CWR (RFC 3168 section 6.1.1), reserved bits 0. */
  if ((p.flags & ~(SG_TCP_ECE | SG_TCP_CWR)) != SG_TCP_SYN || p.reserved != 0) {
    return sg_pass(ctx, SG_XDP_PASS_NOT_SYN);
  }
  if (p.payload != 0) {
    return sg_pass(ctx, SG_XDP_PASS_DATA);
  }
  if (sv->action != SG_XDP_SVC_COOKIE) {
    return sg_pass(ctx, sg_action_counter(sv->action));
  }
  if (st->has_allow) {
    sg_lpm_key(&key, p.saddr, p.v6);
    const __u8* allowed = bpf_map_lookup_elem(&sg_allow, &key);
    if (allowed && *allowed) {
      return sg_pass(ctx, SG_XDP_PASS_ALLOWED);
    }
  }
  if (st->check_source) {
    sg_lpm_key(&key, p.saddr, p.v6);
    const struct sg_xdp_svc_list* from = bpf_map_lookup_elem(&sg_services, &key);
    if (from && (from->n || from->overflow)) {
      return sg_pass(ctx, SG_XDP_PASS_SOURCE);
    }
  }

  /* The options, then the checksum (over the header only: no payload). */
  __u32 l4 = p.l3 == 18 ? 18 : 14;
  l4 += p.v6 ? 40 : 20;
  const __u32* tcpw = data + l4;
  struct sg_opts o;
  __builtin_memset(&o, 0, sizeof(o));
  if (!sg_linux_options(tcpw, p.tcp_hlen, data_end, &o) &&
      sg_parse_options(ctx, l4, p.tcp_hlen, &o) != 0) {
    return sg_pass(ctx, SG_XDP_PASS_OPTIONS);
  }
  __u64 pseudo = bpf_htons(IPPROTO_TCP) + bpf_htons((__u16)p.tcp_hlen);
  if (p.v6) {
    pseudo += (__u64)p.saddr[0] + p.saddr[1] + p.saddr[2] + p.saddr[3] + p.daddr[0] + p.daddr[1] +
              p.daddr[2] + p.daddr[3];
  } else {
    pseudo += (__u64)p.saddr[0] + p.daddr[0];
  }
  if (!sg_tcp_checksum_ok(data_end, tcpw, p.tcp_hlen, pseudo)) {
    return sg_pass(ctx, SG_XDP_PASS_CHECKSUM);
  }

  /* Protector::readWall: cookie time and key period from the wall clock. */
  __u64 wall_ns =
      sg_fixed_clock ? sg_fixed_wall_ns : bpf_ktime_get_ns() + (__u64)st->wall_offset_ns;
  __u64 secs = wall_ns / 1000000000ULL;
  __u32 rotation = st->key_rotation_s;
  __u32 window = st->cookie_window_s;
  if (rotation == 0 || window == 0) {
    return sg_pass(ctx, SG_XDP_PASS_NOT_READY);
  }
  __u64 d = secs / rotation - st->key_period;
  if (d > 1) {
    return sg_pass(ctx, SG_XDP_PASS_NOT_READY); /* stale: the daemon has not refreshed */
  }
  const struct sg_xdp_key* k = &st->keys[d & 1];
  __u32 counter = (__u32)(secs / window);

  /* Protector::sendCookie. */
  __u32 cookie;
  __u16 client_mss = o.has_mss ? o.mss : (p.v6 ? 1220 : 536); /* kDefaultMssV6 / V4 */
  if (p.v6) {
    __u32 n = st->mss_v6_n;
    __u32 idx = sg_mss_index(st->mss_v6, n, client_mss);
    cookie = sg_cookie_v6(k, (const __u64*)p.saddr, (const __u64*)p.daddr, p.sport, p.dport,
                          counter, p.seq, idx);
  } else {
    __u32 n = st->mss_v4_n;
    __u32 idx = sg_mss_index(st->mss_v4, n, client_mss);
    cookie = sg_cookie_v4(k, bpf_ntohl(p.saddr[0]), bpf_ntohl(p.daddr[0]), p.sport, p.dport,
                          counter, p.seq, idx);
  }
  struct sg_answer a;
  __builtin_memset(&a, 0, sizeof(a));
  a.seq = cookie;
  a.ack = p.seq + 1;
  a.flags = SG_TCP_SYN | SG_TCP_ACK;
  a.window = st->zero_window ? 0 : 65535;
  a.mss = p.v6 ? sv->mss_v6 : sv->mss_v4;
  if (o.has_ts && sv->timestamps) {
    /* RFC 7323: what else the client offered survives only in our timestamp. */
    int sack = o.sack && sv->sack;
    int ecn = (p.flags & (SG_TCP_ECE | SG_TCP_CWR)) == (SG_TCP_ECE | SG_TCP_CWR) && sv->ecn;
    int has_our = o.has_ws && sv->has_wscale;
    __u32 ts_now = (__u32)(wall_ns / 1000); /* Protector::cookieTsNow: wall microseconds */
    a.has_ts = 1;
    a.ts_val = sg_cookie_tsval(ts_now, o.has_ws, o.ws, sack, ecn, has_our, sv->wscale);
    a.ts_ecr = o.ts_val;
    a.has_ws = (__u8)has_our;
    a.ws = sv->wscale;
    a.sack = (__u8)sack;
    if (ecn) {
      a.flags |= SG_TCP_ECE;
    }
  }
  r = sg_write_synack(ctx, &p, &a);
  if (r < 0) {
    return sg_pass(ctx, SG_XDP_PASS_NO_ROOM);
  }
  if (r != XDP_TX) {
    return r;
  }
  struct sg_xdp_svc_stats* ss = bpf_map_lookup_elem(&sg_svc_stats, &svc);
  if (ss) {
    ss->syns_answered += 1;
    ss->bytes_answered += p.ip_len;
  }
  sg_count(ctx, SG_XDP_TX_COOKIE);
  return XDP_TX;
}
