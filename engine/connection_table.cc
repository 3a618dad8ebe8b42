#include "engine/connection_table.h"

#include <bit>
#include <cstring>

namespace synguard::engine {

namespace {

inline std::uint64_t load64(const std::uint8_t* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// 64x64 -> 128 multiply, folded (the "mum" step of wyhash).
__extension__ typedef unsigned __int128 Uint128;  // GCC/Clang builtin; -Wpedantic needs the marker

inline std::uint64_t mum(std::uint64_t a, std::uint64_t b) noexcept {
  const Uint128 r = static_cast<Uint128>(a) * b;
  return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
}

constexpr std::uint64_t kP0 = 0xa0761d6478bd642fULL;
constexpr std::uint64_t kP1 = 0xe7037ed1a0b428dbULL;
constexpr std::uint64_t kP2 = 0x8ebc6af09c88c6e3ULL;

constexpr std::uint64_t kP3 = 0x589965cc75374cc3ULL;

// The port gets its own mixing round: folding it into the address word before mixing would let
// an attacker pick (address, port) pairs that cancel out whatever the seed.
inline std::uint64_t endpointHash(const IpAddress& a, std::uint16_t port, std::uint64_t seed) {
  const std::uint8_t* b = a.bytes().data();
  const std::uint64_t h = mum(load64(b) ^ seed ^ kP0, load64(b + 8) ^ kP1);
  return mum(h ^ kP3, (std::uint64_t{port} | (std::uint64_t{port} << 48)) ^ seed ^ kP2);
}

}  // namespace

std::uint64_t FlowHasher::operator()(const FlowKey& k) const noexcept {
  // Hash each endpoint, then combine with a commutative step so (a,b) and (b,a) agree; the final
  // multiply keeps the combination from being trivially cancellable.
  const std::uint64_t ha = endpointHash(k.orig_addr, k.orig_port, seed_);
  const std::uint64_t hb = endpointHash(k.resp_addr, k.resp_port, seed_);
  return mum((ha + hb) ^ kP2, (ha ^ hb) ^ seed_);
}

ConnectionTable::ConnectionTable(std::size_t capacity, std::uint64_t hash_seed)
    : hasher_(hash_seed) {
  const std::size_t cap = std::bit_ceil(capacity < 2 ? std::size_t{2} : capacity);
  slots_.resize(cap);
  buckets_.assign(cap, kNoIndex);
  bucket_mask_ = static_cast<std::uint32_t>(cap - 1);
  // Free list threaded through hash_next, lowest index first.
  for (std::size_t i = 0; i < cap; ++i) {
    Connection& c = slots_[i];
    c = Connection{};
    c.hash_next = i + 1 < cap ? static_cast<std::uint32_t>(i + 1) : kNoIndex;
    c.list = kNoList;
  }
  free_head_ = 0;
}

std::uint32_t ConnectionTable::bucketOf(const FlowKey& k) const noexcept {
  return static_cast<std::uint32_t>(hasher_(k)) & bucket_mask_;
}

ConnectionTable::Found ConnectionTable::find(const FlowKey& t) const noexcept {
  for (std::uint32_t i = buckets_[bucketOf(t)]; i != kNoIndex; i = slots_[i].hash_next) {
    const FlowKey& k = slots_[i].key;
    if (k.orig_port == t.orig_port && k.resp_port == t.resp_port && k.orig_addr == t.orig_addr &&
        k.resp_addr == t.resp_addr) {
      return Found{i, false};
    }
    if (k.orig_port == t.resp_port && k.resp_port == t.orig_port && k.orig_addr == t.resp_addr &&
        k.resp_addr == t.orig_addr) {
      return Found{i, true};
    }
  }
  return Found{};
}

std::uint32_t ConnectionTable::insert(const FlowKey& key) noexcept {
  if (free_head_ == kNoIndex) {
    return kNoIndex;
  }
  const std::uint32_t idx = free_head_;
  Connection& c = slots_[idx];
  free_head_ = c.hash_next;
  c = Connection{};
  c.key = key;
  c.in_use = 1;
  c.list = kNoList;
  c.lru_prev = c.lru_next = kNoIndex;
  c.service_idx = c.source_idx = kNoIndex;
  const std::uint32_t b = bucketOf(key);
  c.hash_next = buckets_[b];
  buckets_[b] = idx;
  ++size_;
  return idx;
}

void ConnectionTable::unlinkList(std::uint32_t idx) noexcept {
  Connection& c = slots_[idx];
  if (c.list == kNoList) {
    return;
  }
  ListHead& h = heads_[c.list];
  if (c.lru_prev != kNoIndex) {
    slots_[c.lru_prev].lru_next = c.lru_next;
  } else {
    h.first = c.lru_next;
  }
  if (c.lru_next != kNoIndex) {
    slots_[c.lru_next].lru_prev = c.lru_prev;
  } else {
    h.last = c.lru_prev;
  }
  --h.count;
  c.lru_prev = c.lru_next = kNoIndex;
  c.list = kNoList;
}

void ConnectionTable::touch(std::uint32_t idx, std::uint8_t list, std::uint32_t tick) noexcept {
  Connection& c = slots_[idx];
  c.last_seen = tick;
  if (c.list == list && c.lru_next == kNoIndex) {
    return;  // already the newest on its list
  }
  unlinkList(idx);
  ListHead& h = heads_[list];
  c.list = list;
  c.lru_prev = h.last;
  c.lru_next = kNoIndex;
  if (h.last != kNoIndex) {
    slots_[h.last].lru_next = idx;
  } else {
    h.first = idx;
  }
  h.last = idx;
  ++h.count;
}

void ConnectionTable::remove(std::uint32_t idx) noexcept {
  Connection& c = slots_[idx];
  if (c.in_use == 0) {
    return;
  }
  unlinkList(idx);
  std::uint32_t* link = &buckets_[bucketOf(c.key)];
  while (*link != kNoIndex && *link != idx) {
    link = &slots_[*link].hash_next;
  }
  if (*link == idx) {
    *link = c.hash_next;
  }
  c.in_use = 0;
  c.hash_next = free_head_;
  free_head_ = idx;
  --size_;
}

std::size_t ConnectionTable::memoryBytes() const noexcept {
  return slots_.size() * sizeof(Connection) + buckets_.size() * sizeof(std::uint32_t) +
         sizeof(*this);
}

}  // namespace synguard::engine
