#include "engine/protect/proxy_table.h"

#include <algorithm>
#include <cstring>

namespace synguard::engine {

namespace {

/// Heap order on wrapping ticks: the earlier deadline first.
bool later(std::uint32_t a, std::uint32_t b) noexcept {
  return static_cast<std::int32_t>(a - b) > 0;
}

bool isPending(ProxyPhase p) noexcept {
  switch (p) {
    case ProxyPhase::kSynSent:
    case ProxyPhase::kAckDelayed:
      return true;
    case ProxyPhase::kFree:
    case ProxyPhase::kEstablished:
      return false;
  }
  return false;
}

}  // namespace

std::string_view toString(ProxyPhase p) noexcept {
  switch (p) {
    case ProxyPhase::kFree:
      return "free";
    case ProxyPhase::kSynSent:
      return "syn_sent";
    case ProxyPhase::kAckDelayed:
      return "ack_delayed";
    case ProxyPhase::kEstablished:
      return "established";
  }
  return "unknown";
}

ProxyTable::ProxyTable(std::size_t capacity, std::size_t early_buffers)
    : entries_(std::max<std::size_t>(capacity, 1)),
      pool_(early_buffers * kEarlyBufferSize),
      lengths_(early_buffers),
      early_next_(early_buffers) {
  heap_.reserve(entries_.size() * 2);
  for (std::size_t i = entries_.size(); i-- > 0;) {
    entries_[i].next_free = free_;
    free_ = static_cast<std::uint32_t>(i);
  }
  for (std::size_t i = early_buffers; i-- > 0;) {
    early_next_[i] = early_free_;
    early_free_ = static_cast<std::uint32_t>(i);
  }
}

std::uint32_t ProxyTable::allocate(std::uint32_t conn) noexcept {
  if (free_ == kNoIndex) {
    return kNoIndex;
  }
  const std::uint32_t idx = free_;
  ProxyEntry& e = entries_[idx];
  free_ = e.next_free;
  e = ProxyEntry{};
  e.conn = conn;
  ++size_;
  return idx;
}

void ProxyTable::notePhase(ProxyPhase from, ProxyPhase to) noexcept {
  if (isPending(from) && !isPending(to)) {
    --pending_;
  } else if (!isPending(from) && isPending(to)) {
    ++pending_;
  }
}

void ProxyTable::release(std::uint32_t idx) noexcept {
  ProxyEntry& e = entries_[idx];
  dropEarly(idx);
  notePhase(e.phase, ProxyPhase::kFree);
  e.phase = ProxyPhase::kFree;
  e.conn = kNoIndex;
  e.next_free = free_;
  free_ = idx;
  --size_;
}

void ProxyTable::schedule(std::uint32_t idx, std::uint32_t tick) noexcept {
  if (heap_.size() >= entries_.size() * 4) {
    // Only stale deadlines can make the heap this large: drop them.
    std::erase_if(heap_, [&](const Deadline& d) {
      const ProxyEntry& e = entries_[d.idx];
      return !isPending(e.phase) || e.deadline != d.tick;
    });
    std::make_heap(heap_.begin(), heap_.end(),
                   [](const Deadline& a, const Deadline& b) { return later(a.tick, b.tick); });
  }
  heap_.push_back(Deadline{tick, idx});
  std::push_heap(heap_.begin(), heap_.end(),
                 [](const Deadline& a, const Deadline& b) { return later(a.tick, b.tick); });
}

bool ProxyTable::popDue(std::uint32_t tick, std::uint32_t& idx, std::uint32_t& due) noexcept {
  if (heap_.empty() || later(heap_.front().tick, tick)) {
    return false;
  }
  std::pop_heap(heap_.begin(), heap_.end(),
                [](const Deadline& a, const Deadline& b) { return later(a.tick, b.tick); });
  idx = heap_.back().idx;
  due = heap_.back().tick;
  heap_.pop_back();
  return true;
}

bool ProxyTable::nextDeadline(std::uint32_t& tick) const noexcept {
  if (heap_.empty()) {
    return false;
  }
  tick = heap_.front().tick;
  return true;
}

bool ProxyTable::keepEarly(std::uint32_t idx, std::span<const std::byte> packet,
                           std::size_t per_connection) noexcept {
  ProxyEntry& e = entries_[idx];
  if (early_free_ == kNoIndex || packet.size() > kEarlyBufferSize ||
      e.early_count >= per_connection || e.early_count == 0xff) {
    return false;
  }
  const std::uint32_t b = early_free_;
  early_free_ = early_next_[b];
  std::memcpy(pool_.data() + std::size_t{b} * kEarlyBufferSize, packet.data(), packet.size());
  lengths_[b] = static_cast<std::uint16_t>(packet.size());
  early_next_[b] = kNoIndex;
  if (e.early_tail == kNoIndex) {
    e.early_head = b;
  } else {
    early_next_[e.early_tail] = b;
  }
  e.early_tail = b;
  ++e.early_count;
  ++early_in_use_;
  return true;
}

void ProxyTable::dropEarly(std::uint32_t idx) noexcept {
  ProxyEntry& e = entries_[idx];
  std::uint32_t b = e.early_head;
  while (b != kNoIndex) {
    const std::uint32_t next = early_next_[b];
    early_next_[b] = early_free_;
    early_free_ = b;
    --early_in_use_;
    b = next;
  }
  e.early_head = e.early_tail = kNoIndex;
  e.early_count = 0;
}

std::size_t ProxyTable::bytesPerConnection() const noexcept {
  const std::size_t n = entries_.size();
  return sizeof(ProxyEntry) + (heap_.capacity() * sizeof(Deadline)) / n +
         (pool_.size() + lengths_.size() * 2 + early_next_.size() * 4) / n;
}

}  // namespace synguard::engine
