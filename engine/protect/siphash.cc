#include "engine/protect/siphash.h"

namespace synguard::engine {

namespace {

constexpr std::uint64_t rotl(std::uint64_t x, int b) noexcept { return (x << b) | (x >> (64 - b)); }

struct State {
  std::uint64_t v0, v1, v2, v3;
  /// "somepseudorandomlygeneratedbytes", the initialisation constants of the paper (§2).
  explicit State(const SipKey& key) noexcept
      : v0(key.k0 ^ 0x736f6d6570736575ULL),
        v1(key.k1 ^ 0x646f72616e646f6dULL),
        v2(key.k0 ^ 0x6c7967656e657261ULL),
        v3(key.k1 ^ 0x7465646279746573ULL) {}
  /// c = 2 compression rounds on one message word.
  void compress(std::uint64_t m) noexcept {
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
  /// The last block (with the length byte), then d = 4 finalization rounds.
  std::uint64_t finish(std::uint64_t last) noexcept {
    compress(last);
    v2 ^= 0xff;
    round();
    round();
    round();
    round();
    return v0 ^ v1 ^ v2 ^ v3;
  }
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
  State s(key);
  const std::size_t n = data.size();
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    s.compress(le64(data.data() + i));
  }
  // Last block: remaining bytes, with the message length (mod 256) in the top byte.
  std::uint64_t b = static_cast<std::uint64_t>(n & 0xff) << 56;
  for (std::size_t k = 0; i + k < n; ++k) {
    b |= static_cast<std::uint64_t>(data[i + k]) << (8 * k);
  }
  return s.finish(b);
}

std::uint64_t sipHash24Words(const SipKey& key, std::span<const std::uint64_t> words) noexcept {
  State s(key);
  for (const std::uint64_t m : words) {
    s.compress(m);
  }
  return s.finish(static_cast<std::uint64_t>((words.size() * 8) & 0xff) << 56);
}

}  // namespace synguard::engine
