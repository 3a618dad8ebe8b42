#include "engine/track/half_open.h"

#include <bit>

namespace synguard::engine {

CounterTable::CounterTable(std::size_t capacity, std::uint64_t seed) : hasher_(seed) {
  const std::size_t cap = std::bit_ceil(capacity < 2 ? std::size_t{2} : capacity);
  entries_.resize(cap);
  buckets_.assign(cap, kNoIndex);
  bucket_mask_ = static_cast<std::uint32_t>(cap - 1);
  // The overflow entry is permanent and never on the idle list.
  entries_[kOverflow].in_use = true;
}

std::uint32_t CounterTable::bucketOf(const IpAddress& addr, std::uint16_t port) const noexcept {
  return static_cast<std::uint32_t>(hasher_.one(addr, port)) & bucket_mask_;
}

std::uint32_t CounterTable::find(const IpAddress& addr, std::uint16_t port) const noexcept {
  for (std::uint32_t i = buckets_[bucketOf(addr, port)]; i != kNoIndex; i = entries_[i].hash_next) {
    if (entries_[i].port == port && entries_[i].addr == addr) {
      return i;
    }
  }
  return kNoIndex;
}

void CounterTable::idlePush(std::uint32_t idx) noexcept {
  CounterEntry& e = entries_[idx];
  e.on_idle = true;
  e.idle_prev = idle_last_;
  e.idle_next = kNoIndex;
  if (idle_last_ != kNoIndex) {
    entries_[idle_last_].idle_next = idx;
  } else {
    idle_first_ = idx;
  }
  idle_last_ = idx;
}

void CounterTable::idleUnlink(std::uint32_t idx) noexcept {
  CounterEntry& e = entries_[idx];
  if (!e.on_idle) {
    return;
  }
  if (e.idle_prev != kNoIndex) {
    entries_[e.idle_prev].idle_next = e.idle_next;
  } else {
    idle_first_ = e.idle_next;
  }
  if (e.idle_next != kNoIndex) {
    entries_[e.idle_next].idle_prev = e.idle_prev;
  } else {
    idle_last_ = e.idle_prev;
  }
  e.on_idle = false;
  e.idle_prev = e.idle_next = kNoIndex;
}

void CounterTable::unlinkBucket(std::uint32_t idx) noexcept {
  const CounterEntry& e = entries_[idx];
  std::uint32_t* link = &buckets_[bucketOf(e.addr, e.port)];
  while (*link != kNoIndex && *link != idx) {
    link = &entries_[*link].hash_next;
  }
  if (*link == idx) {
    *link = e.hash_next;
  }
}

std::uint32_t CounterTable::findOrInsert(const IpAddress& addr, std::uint16_t port) noexcept {
  if (const std::uint32_t i = find(addr, port); i != kNoIndex) {
    return i;
  }
  std::uint32_t idx = kNoIndex;
  if (next_unused_ < entries_.size()) {
    idx = next_unused_++;
  } else if (idle_first_ != kNoIndex) {
    idx = idle_first_;
    idleUnlink(idx);
    unlinkBucket(idx);
    ++recycled_;
  } else {
    ++overflowed_;
    return kOverflow;
  }
  CounterEntry& e = entries_[idx];
  e = CounterEntry{};
  e.addr = addr;
  e.port = port;
  e.in_use = true;
  const std::uint32_t b = bucketOf(addr, port);
  e.hash_next = buckets_[b];
  buckets_[b] = idx;
  idlePush(idx);
  return idx;
}

void CounterTable::addHalfOpen(std::uint32_t idx) noexcept {
  CounterEntry& e = entries_[idx];
  if (e.half_open++ == 0) {
    idleUnlink(idx);
  }
  if (e.half_open > e.peak_half_open) {
    e.peak_half_open = e.half_open;
  }
}

void CounterTable::removeHalfOpen(std::uint32_t idx) noexcept {
  CounterEntry& e = entries_[idx];
  if (e.half_open == 0) {
    return;  // defensive: callers only release references they hold
  }
  if (--e.half_open == 0 && e.proxied == 0 && idx != kOverflow) {
    idlePush(idx);
  }
}

void CounterTable::addProxied(std::uint32_t idx) noexcept {
  CounterEntry& e = entries_[idx];
  if (e.proxied++ == 0) {
    idleUnlink(idx);
  }
}

void CounterTable::removeProxied(std::uint32_t idx) noexcept {
  CounterEntry& e = entries_[idx];
  if (e.proxied == 0) {
    return;
  }
  if (--e.proxied == 0 && e.half_open == 0 && idx != kOverflow) {
    idlePush(idx);
  }
}

void CounterTable::recordSyn(std::uint32_t idx, std::uint32_t tick) noexcept {
  CounterEntry& e = entries_[idx];
  ++e.syns;
  e.syn_rate.add(tick);
  if (e.on_idle && e.idle_next != kNoIndex) {
    idleUnlink(idx);
    idlePush(idx);
  }
}

HalfOpenAccounting::HalfOpenAccounting(const HalfOpenConfig& cfg, std::uint64_t seed)
    : cfg_(cfg),
      services_(cfg.service_capacity, seed ^ 0x5e7f1ce5ULL),
      sources_(cfg.source_capacity, seed ^ 0x50c4ce55ULL) {}

unsigned HalfOpenAccounting::sourcePrefixLength(const IpAddress& a) const noexcept {
  return a.isV4() ? cfg_.source_prefix_v4 : cfg_.source_prefix_v6;
}

IpAddress HalfOpenAccounting::sourcePrefix(const IpAddress& a) const noexcept {
  return a.masked(sourcePrefixLength(a));
}

HalfOpenAccounting::SynRefs HalfOpenAccounting::recordSyn(const FlowKey& key, std::uint32_t tick,
                                                          std::uint16_t source_tag) noexcept {
  ++global_syns_;
  global_syn_rate_.add(tick);
  SynRefs refs{services_.findOrInsert(key.resp_addr, key.resp_port),
               sources_.findOrInsert(sourcePrefix(key.orig_addr), source_tag)};
  services_.recordSyn(refs.service, tick);
  sources_.recordSyn(refs.source, tick);
  return refs;
}

void HalfOpenAccounting::enter(Connection& c, SynRefs refs) noexcept {
  if ((c.flags & kConnHalfOpenCounted) != 0) {
    return;
  }
  c.flags = static_cast<std::uint8_t>(c.flags | kConnHalfOpenCounted);
  c.service_idx = refs.service;
  c.setHalfOpenSource(refs.source);
  services_.addHalfOpen(c.service_idx);
  sources_.addHalfOpen(c.halfOpenSource());
  if (++global_ > peak_) {
    peak_ = global_;
    peak_dirty_ = true;
  }
}

void HalfOpenAccounting::notePeakTime(std::int64_t now_ns) noexcept {
  if (peak_dirty_) {
    peak_time_ns_ = now_ns;
    peak_dirty_ = false;
  }
}

void HalfOpenAccounting::leave(Connection& c) noexcept {
  if ((c.flags & kConnHalfOpenCounted) == 0) {
    return;
  }
  c.flags = static_cast<std::uint8_t>(c.flags & ~kConnHalfOpenCounted);
  services_.removeHalfOpen(c.service_idx);
  sources_.removeHalfOpen(c.halfOpenSource());
  c.service_idx = kNoIndex;
  c.setHalfOpenSource(kNoIndex);
  --global_;
}

}  // namespace synguard::engine
