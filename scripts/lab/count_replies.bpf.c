// The lab attacker's end of its veth (scripts/lab-bench.sh): counts the SYN-ACKs and RSTs
// that come back for the flood, and drops them at once, so what the benchmark charges to the
// gateway is not the attacker's own stack receiving its replies. Other frames pass.
// clang -O2 -g -target bpf; the counts are read with `bpftool map dump name lab_replies`.
/* clang-format off */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
/* clang-format on */

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 2); /* 0: SYN-ACKs, 1: RSTs */
  __type(key, __u32);
  __type(value, __u64);
} lab_replies SEC(".maps");

SEC("xdp")
int count_replies(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* end = (void*)(long)ctx->data_end;
  struct ethhdr* eth = data;
  if ((void*)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP)) {
    return XDP_PASS;
  }
  struct iphdr* ip = (void*)(eth + 1);
  if ((void*)(ip + 1) > end || ip->ihl != 5 || ip->protocol != IPPROTO_TCP) {
    return XDP_PASS;
  }
  struct tcphdr* tcp = (void*)(ip + 1);
  if ((void*)(tcp + 1) > end) {
    return XDP_PASS;
  }
  __u32 k;
  if (tcp->syn && tcp->ack) {
    k = 0;
  } else if (tcp->rst) {
    k = 1;
  } else {
    return XDP_PASS;
  }
  __u64* v = bpf_map_lookup_elem(&lab_replies, &k);
  if (v) {
    *v += 1;
  }
  return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
