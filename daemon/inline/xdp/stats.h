/* Counters: per CPU, so the packet path never shares a cache line. */
#ifndef SYNGUARD_DAEMON_INLINE_XDP_STATS_H_
#define SYNGUARD_DAEMON_INLINE_XDP_STATS_H_

/* The kernel UAPI headers first: libbpf's helper declarations need their types. */
/* clang-format off */
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
/* clang-format on */

#include "daemon/inline/xdp/xdp_abi.h"

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, (SG_XDP_MAX_IFACES + 1) * SG_XDP_NCOUNTERS);
  __type(key, __u32);
  __type(value, __u64);
} sg_if_stats SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, SG_XDP_MAX_SERVICES);
  __type(key, __u32);
  __type(value, struct sg_xdp_svc_stats);
} sg_svc_stats SEC(".maps");

/* Interfaces whose counters are kept apart (the daemon writes them). */
__u32 sg_ifindex[SG_XDP_MAX_IFACES];
__u32 sg_nifaces;

/* A global function: verified once, not at each of the program's exits. */
__noinline int sg_count(struct xdp_md* ctx, __u32 counter) {
  if (!ctx) {
    return 0;
  }
  __u32 slot = SG_XDP_MAX_IFACES;
  __u32 n = sg_nifaces;
  __u32 ifindex = ctx->ingress_ifindex;
  for (__u32 i = 0; i < SG_XDP_MAX_IFACES; i++) {
    if (i >= n) {
      break;
    }
    if (sg_ifindex[i] == ifindex) {
      slot = i;
      break;
    }
  }
  __u32 key = slot * SG_XDP_NCOUNTERS + counter;
  __u64* v = bpf_map_lookup_elem(&sg_if_stats, &key);
  if (v) {
    *v += 1;
  }
  return 0;
}

#endif /* SYNGUARD_DAEMON_INLINE_XDP_STATS_H_ */
