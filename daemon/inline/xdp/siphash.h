/* SipHash-2-4 over 64-bit message words, as engine/protect/siphash.cc's sipHash24Words: the
 * same initialisation constants, c = 2 compression rounds per word, a last block holding only
 * the message length in bytes (mod 256) in its top byte, then d = 4 finalization rounds. */
#ifndef SYNGUARD_DAEMON_INLINE_XDP_SIPHASH_H_
#define SYNGUARD_DAEMON_INLINE_XDP_SIPHASH_H_

#include <linux/types.h>

#include "daemon/inline/xdp/xdp_abi.h"

#define SG_ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

#define SG_SIPROUND(v0, v1, v2, v3) \
  do {                              \
    v0 += v1;                       \
    v1 = SG_ROTL(v1, 13);           \
    v1 ^= v0;                       \
    v0 = SG_ROTL(v0, 32);           \
    v2 += v3;                       \
    v3 = SG_ROTL(v3, 16);           \
    v3 ^= v2;                       \
    v0 += v3;                       \
    v3 = SG_ROTL(v3, 21);           \
    v3 ^= v0;                       \
    v2 += v1;                       \
    v1 = SG_ROTL(v1, 17);           \
    v1 ^= v2;                       \
    v2 = SG_ROTL(v2, 32);           \
  } while (0)

struct sg_sip {
  __u64 v0, v1, v2, v3;
};

static __always_inline void sg_sip_init(struct sg_sip* s, const struct sg_xdp_key* k) {
  /* "somepseudorandomlygeneratedbytes" (the paper, section 2) */
  s->v0 = k->k0 ^ 0x736f6d6570736575ULL;
  s->v1 = k->k1 ^ 0x646f72616e646f6dULL;
  s->v2 = k->k0 ^ 0x6c7967656e657261ULL;
  s->v3 = k->k1 ^ 0x7465646279746573ULL;
}

static __always_inline void sg_sip_word(struct sg_sip* s, __u64 m) {
  __u64 v0 = s->v0, v1 = s->v1, v2 = s->v2, v3 = s->v3;
  v3 ^= m;
  SG_SIPROUND(v0, v1, v2, v3);
  SG_SIPROUND(v0, v1, v2, v3);
  v0 ^= m;
  s->v0 = v0;
  s->v1 = v1;
  s->v2 = v2;
  s->v3 = v3;
}

/* `nbytes`: the message length (words * 8). */
static __always_inline __u64 sg_sip_finish(struct sg_sip* s, __u64 nbytes) {
  __u64 v0, v1, v2, v3;
  sg_sip_word(s, (nbytes & 0xff) << 56);
  v0 = s->v0;
  v1 = s->v1;
  v2 = s->v2 ^ 0xff;
  v3 = s->v3;
  SG_SIPROUND(v0, v1, v2, v3);
  SG_SIPROUND(v0, v1, v2, v3);
  SG_SIPROUND(v0, v1, v2, v3);
  SG_SIPROUND(v0, v1, v2, v3);
  return v0 ^ v1 ^ v2 ^ v3;
}

#endif /* SYNGUARD_DAEMON_INLINE_XDP_SIPHASH_H_ */
