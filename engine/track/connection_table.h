#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/packet/flow_key.h"
#include "engine/track/connection.h"

namespace synguard::engine {

/// Fixed-capacity connection table: slots allocated once at start, chained hash buckets of slot
/// indices, and one intrusive list per connection state ordered by last activity. Because every
/// connection on a list shares that list's timeout, the list is also ordered by deadline, so
/// expiry pops heads and eviction picks the oldest head: O(1) per packet, no scans.
///
/// Not thread-safe: one table per engine, one engine per worker.
class ConnectionTable {
 public:
  static constexpr std::uint8_t kNoList = 0xff;
  /// The timer list of unassured entries that are not half-open (mid-stream pickups, strays,
  /// closing unassured connections): one timeout (Timeouts::unassured) for all of them. Every
  /// other list is a TcpState's.
  static constexpr std::uint8_t kUnassuredList = kTcpStateCount;
  static constexpr std::size_t kListCount = kTcpStateCount + 1;
  /// The timer list of the connections in state `s`: one list per real state, in the enum's
  /// order, before kUnassuredList.
  static constexpr std::uint8_t listOf(TcpState s) noexcept {
    return static_cast<std::uint8_t>(index(s));
  }

  /// `capacity` is rounded up to a power of two (so is the bucket count).
  ConnectionTable(std::size_t capacity, std::uint64_t hash_seed);

  std::size_t capacity() const noexcept { return slots_.size(); }
  std::size_t size() const noexcept { return size_; }

  struct Found {
    std::uint32_t idx = kNoIndex;
    bool reply = false;  ///< the looked-up tuple is the responder -> originator direction
  };
  /// Finds the connection for a packet's (src, dst) tuple in either orientation.
  Found find(const FlowKey& packet_tuple) const noexcept {
    return find(packet_tuple, hashOf(packet_tuple));
  }
  /// The same with the tuple's hash already computed (hashOf), so a packet hashes once.
  Found find(const FlowKey& t, std::uint64_t hash) const noexcept;
  std::uint64_t hashOf(const FlowKey& k) const noexcept { return hasher_(k); }

  /// Cache hints for a lookup that is coming: the bucket, then (once the bucket is cached) the
  /// first slot it chains to. Pure hints: no state changes.
  void prefetchBucket(const FlowKey& tuple) const noexcept {
    __builtin_prefetch(&buckets_[bucketOf(tuple)]);
  }
  void prefetchChain(const FlowKey& tuple) const noexcept {
    const std::uint32_t i = buckets_[bucketOf(tuple)];
    if (i != kNoIndex) {
      __builtin_prefetch(&slots_[i]);
    }
  }
  /// Hint for evicting `idx` (an LRU head) and then its successor: a two-deep pipeline. The
  /// successor's slot was hinted by the previous call, so its key can be hashed now to hint its
  /// bucket, and the slot after it is hinted for next time.
  void prefetchForRemoval(std::uint32_t idx) const noexcept {
    if (idx == kNoIndex) {
      return;
    }
    const Connection& next = slots_[idx];
    __builtin_prefetch(&buckets_[bucketOf(next.key)]);
    if (next.lru_next != kNoIndex) {
      __builtin_prefetch(&slots_[next.lru_next]);
    }
  }

  /// Takes a free slot for `key` (originator first) and links it. kNoIndex when full.
  std::uint32_t insert(const FlowKey& key) noexcept { return insert(key, hashOf(key)); }
  std::uint32_t insert(const FlowKey& key, std::uint64_t hash) noexcept;
  /// Unlinks the slot from its bucket and timer list and frees it.
  void remove(std::uint32_t idx) noexcept;

  Connection& at(std::uint32_t idx) noexcept { return slots_[idx]; }
  const Connection& at(std::uint32_t idx) const noexcept { return slots_[idx]; }

  /// Moves a connection to the tail of timer list `list` (a TcpState or kUnassuredList) with
  /// last_seen = `tick`.
  void touch(std::uint32_t idx, std::uint8_t list, std::uint32_t tick) noexcept;
  /// Oldest connection on a list, or kNoIndex.
  std::uint32_t head(std::uint8_t list) const noexcept { return heads_[list].first; }
  std::uint32_t listSize(std::uint8_t list) const noexcept { return heads_[list].count; }

  /// Bytes the table allocates per slot (slots + buckets), for the memory-per-connection report;
  /// fixedBytes() is the table object itself, independent of capacity.
  std::size_t memoryBytes() const noexcept;
  static constexpr std::size_t fixedBytes() noexcept;

  template <typename F>
  void forEach(F&& fn) const {
    for (std::uint32_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i].in_use != 0) {
        fn(i, slots_[i]);
      }
    }
  }

 private:
  struct ListHead {
    std::uint32_t first = kNoIndex;
    std::uint32_t last = kNoIndex;
    std::uint32_t count = 0;
  };
  std::uint32_t bucketOf(const FlowKey& k) const noexcept;
  void unlinkList(std::uint32_t idx) noexcept;

  std::vector<Connection> slots_;
  std::vector<std::uint32_t> buckets_;
  std::array<ListHead, kListCount> heads_{};
  FlowHasher hasher_;
  std::uint32_t free_head_ = kNoIndex;
  std::uint32_t bucket_mask_ = 0;
  std::size_t size_ = 0;
};

constexpr std::size_t ConnectionTable::fixedBytes() noexcept { return sizeof(ConnectionTable); }

}  // namespace synguard::engine
