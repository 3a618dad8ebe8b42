#include "engine/track/connection_table.h"

#include <bit>
#include <cstring>
#include <utility>

namespace synguard::engine {

namespace {

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

}  // namespace

std::uint64_t FlowHasher::operator()(const FlowKey& k) const noexcept {
  // Symmetric: the two endpoints are hashed in a fixed order (lower address, then port, first)
  // so both directions of a connection hash alike. Three multiply-fold rounds; the ports get a
  // round of their own after the addresses are mixed with the secret seed, so no choice of
  // (address, port) pairs cancels out.
  std::uint64_t a0 = k.orig_addr.word(0);
  std::uint64_t a1 = k.orig_addr.word(1);
  std::uint64_t b0 = k.resp_addr.word(0);
  std::uint64_t b1 = k.resp_addr.word(1);
  std::uint64_t pa = k.orig_port;
  std::uint64_t pb = k.resp_port;
  if (a1 > b1 || (a1 == b1 && (a0 > b0 || (a0 == b0 && pa > pb)))) {
    std::swap(a0, b0);
    std::swap(a1, b1);
    std::swap(pa, pb);
  }
  std::uint64_t h = mum(a0 ^ seed_ ^ kP0, a1 ^ kP1);
  h = mum(h ^ b0 ^ kP2, b1 ^ seed_);
  return mum(h ^ kP3, ((pa << 16) | pb) ^ seed_ ^ kP0);
}

std::uint64_t FlowHasher::one(const IpAddress& a, std::uint16_t port) const noexcept {
  const std::uint64_t h = mum(a.word(0) ^ seed_ ^ kP0, a.word(1) ^ kP1);
  return mum(h ^ kP3, std::uint64_t{port} ^ seed_ ^ kP2);
}

ConnectionTable::ConnectionTable(std::size_t capacity, std::uint64_t hash_seed)
    : hasher_(hash_seed) {
  const std::size_t cap = std::bit_ceil(capacity < 2 ? std::size_t{2} : capacity);
  slots_.resize(cap);
  // Two buckets per slot: chains average half a slot at a full table, so a lookup miss (every
  // SYN of a flood) and an eviction's unlink touch few other slots. 8 bytes per connection,
  // which keeps the total at 128 (slot 120).
  buckets_.assign(2 * cap, kNoIndex);
  bucket_mask_ = static_cast<std::uint32_t>(2 * cap - 1);
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

ConnectionTable::Found ConnectionTable::find(const FlowKey& t, std::uint64_t hash) const noexcept {
  for (std::uint32_t i = buckets_[static_cast<std::uint32_t>(hash) & bucket_mask_]; i != kNoIndex;
       i = slots_[i].hash_next) {
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

std::uint32_t ConnectionTable::insert(const FlowKey& key, std::uint64_t hash) noexcept {
  if (free_head_ == kNoIndex) {
    return kNoIndex;
  }
  const std::uint32_t idx = free_head_;
  Connection& c = slots_[idx];
  free_head_ = c.hash_next;
  c = Connection{};
  c.key = key;
  c.in_use = kSlotInUse;
  c.list = kNoList;
  c.lru_prev = c.lru_next = kNoIndex;
  c.service_idx = kNoIndex;
  c.source_or_proxy = kNoIndex;  // neither a half-open source nor a proxy entry
  // Append: chains stay in insertion order, so the oldest entry — the one expiry and eviction
  // remove — sits at the head and unlinks without walking past others. The walk here runs over
  // lines the caller's find() (a miss, before every insert) has just loaded.
  std::uint32_t* link = &buckets_[static_cast<std::uint32_t>(hash) & bucket_mask_];
  while (*link != kNoIndex) {
    link = &slots_[*link].hash_next;
  }
  c.hash_next = kNoIndex;
  *link = idx;
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
  return slots_.size() * sizeof(Connection) + buckets_.size() * sizeof(std::uint32_t);
}

}  // namespace synguard::engine
