/* What the XDP program (synguard.bpf.c) and its loader (xdp_path.cc) share: the layout of the
 * program's global variables and maps. C, included by both the BPF program (clang -target bpf)
 * and the C++ daemon; every field has a fixed width and explicit padding, so both sides agree
 * byte for byte.
 *
 * Ownership: the daemon writes everything here except the counters, which only the program
 * writes (per CPU) and the daemon reads. The program never trusts a field to be in range: it
 * bounds every index it reads from here.
 */
#ifndef SYNGUARD_DAEMON_INLINE_XDP_XDP_ABI_H_
#define SYNGUARD_DAEMON_INLINE_XDP_XDP_ABI_H_

#include <linux/types.h>

/* Bounds (engine/limits.h: kMaxServices = 256, kMaxMssValues = 8). */
#define SG_XDP_MAX_SERVICES 256
#define SG_XDP_MAX_MSS 8
/* Interfaces the program is attached to; counters of any other ifindex go to slot
 * SG_XDP_MAX_IFACES ("other", e.g. BPF_PROG_TEST_RUN). */
#define SG_XDP_MAX_IFACES 32
/* Services one LPM prefix can carry (every service whose addresses contain the prefix, in
 * configuration order: the engine's ServiceMap takes the first whose port matches). More
 * than this: the entry says `overflow` and the program passes such SYNs to the queue. */
#define SG_XDP_MAX_PER_PREFIX 16

/* --- Global state, double-buffered: the daemon writes sg_state[!sg_active] then flips
 * sg_active (one aligned 32-bit store), so the program never reads a half-written key. --- */
struct sg_xdp_key {
  __u64 k0;
  __u64 k1;
};

struct sg_xdp_state {
  /* CLOCK_REALTIME - CLOCK_MONOTONIC in ns, refreshed every second: bpf_ktime_get_ns() plus
   * this is the wall clock the engine's cookie time and TSval come from (Clock::wall()). */
  __s64 wall_offset_ns;
  /* keys[0] is the derived cookie key of rotation period `key_period` (wall seconds /
   * key_rotation_s), keys[1] that of key_period + 1, so a rotation that happens between two
   * refreshes still gives the engine's own cookie. Any other period: pass (stale). Never the
   * master key. */
  __u64 key_period;
  struct sg_xdp_key keys[2];
  __u32 cookie_window_s;        /* SynCookies::Config::window, > 0 */
  __u32 key_rotation_s;         /* ProtectionConfig::key_rotation, > 0 */
  __u16 mss_v4[SG_XDP_MAX_MSS]; /* SynCookies::Config::v4 (ascending) */
  __u16 mss_v6[SG_XDP_MAX_MSS]; /* SynCookies::Config::v6 */
  __u8 mss_v4_n;                /* 1..8 */
  __u8 mss_v6_n;
  __u8 zero_window;  /* ProxyConfig::hold_with_zero_window: SYN-ACK window 0, else 65535 */
  __u8 ready;        /* 0: pass everything (keys not written yet, or the daemon is stopping) */
  __u8 check_source; /* 1: a SYN whose *source* is in a service prefix is passed (anti-spoofing
                        is the nft rules' job; XDP must not answer what they would drop) */
  __u8 has_deny;     /* 1: sg_deny holds prefixes */
  __u8 has_allow;    /* 1: sg_allow holds prefixes */
  __u8 pad0;
};

/* What a SYN to one service gets. Written on every mode change and profile change. */
enum sg_xdp_svc_action {
  SG_XDP_SVC_PASS_NORMAL = 0,  /* normal mode (or not yet started): the queue decides */
  SG_XDP_SVC_COOKIE = 1,       /* cookie mode, enforced: answer in XDP */
  SG_XDP_SVC_PASS_OFF = 2,     /* protection off */
  SG_XDP_SVC_PASS_MONITOR = 3, /* monitor or dry run: the engine counts would-cookie */
  SG_XDP_SVC_PASS_LIMITS = 4,  /* cookie mode, but per-source SYN rate limits apply (engine) */
};

struct sg_xdp_service {
  __u8 action;     /* enum sg_xdp_svc_action */
  __u8 deny_drop;  /* 1: segments from sg_deny sources are dropped (not monitor, not dry run) */
  __u8 has_wscale; /* the profile's (ServerProfile after overrides) */
  __u8 wscale;     /* <= 14 */
  __u8 sack;
  __u8 timestamps;
  __u8 ecn;
  __u8 pad0;
  __u16 mss_v4; /* MSS the SYN-ACK announces: profile MSS, else EngineConfig default_mss_v4 */
  __u16 mss_v6;
  __u32 pad1;
};

/* --- Maps --- */

/* LPM key for sg_services, sg_allow, sg_deny: IPv4 as the IPv4-mapped IPv6 address
 * ::ffff:a.b.c.d, prefixlen + 96. */
struct sg_xdp_lpm_key {
  __u32 prefixlen;
  __u8 addr[16];
};

struct sg_xdp_port_svc {
  __u16 first; /* port range, host order, inclusive */
  __u16 last;
  __u16 svc; /* index into sg_services (the engine's service index) */
  __u16 pad;
};

/* sg_services value: every service whose address set contains the key prefix, in
 * configuration order, one row per port range. */
struct sg_xdp_svc_list {
  __u32 n;        /* rows used, <= SG_XDP_MAX_PER_PREFIX */
  __u32 overflow; /* 1: more rows than fit: pass */
  struct sg_xdp_port_svc rows[SG_XDP_MAX_PER_PREFIX];
};

/* Per-interface counters (per CPU): key = slot * SG_XDP_NCOUNTERS + counter, where slot is
 * the index of ctx->ingress_ifindex in sg_ifindex[] (SG_XDP_MAX_IFACES if absent). */
enum sg_xdp_counter {
  SG_XDP_TX_COOKIE = 0,   /* SYN answered with a cookie SYN-ACK (XDP_TX) */
  SG_XDP_DROP_DENIED,     /* deny-listed source to a service */
  SG_XDP_PASS_NOT_IP,     /* not IPv4/IPv6 (ARP, LLDP...), or more than one VLAN tag */
  SG_XDP_PASS_NOT_TCP,    /* IP but not TCP */
  SG_XDP_PASS_IP_UNUSUAL, /* IPv4 options or fragment, IPv6 extension headers */
  SG_XDP_PASS_MALFORMED,  /* truncated or inconsistent headers, bad IPv4 header checksum */
  SG_XDP_PASS_NOT_SYN,    /* any TCP segment but a plain SYN (SYN, optionally ECE|CWR) */
  SG_XDP_PASS_NO_SERVICE, /* no service for the destination address and port */
  SG_XDP_PASS_NORMAL,     /* the service is in normal mode */
  SG_XDP_PASS_OFF,        /* the service's protection is off */
  SG_XDP_PASS_MONITOR,    /* monitor service or dry run */
  SG_XDP_PASS_LIMITS,     /* per-source SYN rate limits: the engine enforces them */
  SG_XDP_PASS_ALLOWED,    /* allow-listed source */
  SG_XDP_PASS_SOURCE,     /* the source is a service address (check_source) */
  SG_XDP_PASS_OPTIONS,    /* TCP options the program does not take (duplicates, bad lengths) */
  SG_XDP_PASS_DATA,       /* SYN carrying data (TFO): the engine answers it */
  SG_XDP_PASS_CHECKSUM,   /* bad TCP checksum: the engine drops and counts it */
  SG_XDP_PASS_NO_ROOM,    /* bpf_xdp_adjust_tail failed (no tailroom) */
  SG_XDP_PASS_NOT_READY,  /* state not ready, or the key period is stale */
  SG_XDP_PASS_OVERFLOW,   /* a prefix with more port rows than fit */
  SG_XDP_NCOUNTERS
};

/* Per-service feedback (per CPU), key = service index: what XDP decided for the engine, which
 * the daemon adds to the engine's counters and SYN-rate meters (Engine::noteOffloaded). */
struct sg_xdp_svc_stats {
  __u64 syns_answered;  /* cookie SYN-ACKs sent */
  __u64 bytes_answered; /* IP bytes of those SYNs */
  __u64 denied;         /* segments dropped as deny-listed */
  __u64 denied_bytes;
  __u64 denied_syns; /* of which SYNs */
};

#endif /* SYNGUARD_DAEMON_INLINE_XDP_XDP_ABI_H_ */
