#include "engine/siphash.h"

namespace synguard::engine {

namespace {

constexpr std::uint64_t rotl(std::uint64_t x, int b) noexcept { return (x << b) | (x >> (64 - b)); }

struct State {
  std::uint64_t v0, v1, v2, v3;
  void round() noexcept {
    v0 += v1;
    v1 = rotl(v1, 13);
    v1 ^= v0;
    v0 = rotl(v0, 32);
    v2 += v3;
    v3 = rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = rotl(v1, 17);
    v1 ^= v2;
    v2 = rotl(v2, 32);
  }
};

std::uint64_t le64(const std::uint8_t* p) noexcept {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) {
    v = (v << 8) | p[i];
  }
  return v;
}

}  // namespace

SipKey SipKey::fromBytes(const std::array<std::uint8_t, 16>& b) noexcept {
  return SipKey{le64(b.data()), le64(b.data() + 8)};
}

std::uint64_t sipHash24(const SipKey& key, std::span<const std::uint8_t> data) noexcept {
  // "somepseudorandomlygeneratedbytes", the initialisation constants of the paper (§2).
  State s{key.k0 ^ 0x736f6d6570736575ULL, key.k1 ^ 0x646f72616e646f6dULL,
          key.k0 ^ 0x6c7967656e657261ULL, key.k1 ^ 0x7465646279746573ULL};
  const std::size_t n = data.size();
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const std::uint64_t m = le64(data.data() + i);
    s.v3 ^= m;
    s.round();
    s.round();
    s.v0 ^= m;
  }
  // Last block: remaining bytes, with the message length (mod 256) in the top byte.
  std::uint64_t b = static_cast<std::uint64_t>(n & 0xff) << 56;
  for (std::size_t k = 0; i + k < n; ++k) {
    b |= static_cast<std::uint64_t>(data[i + k]) << (8 * k);
  }
  s.v3 ^= b;
  s.round();
  s.round();
  s.v0 ^= b;
  s.v2 ^= 0xff;
  s.round();
  s.round();
  s.round();
  s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

std::uint64_t sipHash24Words(const SipKey& key, std::span<const std::uint64_t> words) noexcept {
  State s{key.k0 ^ 0x736f6d6570736575ULL, key.k1 ^ 0x646f72616e646f6dULL,
          key.k0 ^ 0x6c7967656e657261ULL, key.k1 ^ 0x7465646279746573ULL};
  for (const std::uint64_t m : words) {
    s.v3 ^= m;
    s.round();
    s.round();
    s.v0 ^= m;
  }
  const std::uint64_t b = static_cast<std::uint64_t>((words.size() * 8) & 0xff) << 56;
  s.v3 ^= b;
  s.round();
  s.round();
  s.v0 ^= b;
  s.v2 ^= 0xff;
  s.round();
  s.round();
  s.round();
  s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

}  // namespace synguard::engine
