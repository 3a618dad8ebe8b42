#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/packet/flow_key.h"
#include "engine/packet/ip_address.h"
#include "engine/protect/token_bucket.h"
#include "engine/track/connection.h"
#include "engine/track/rate_meter.h"

namespace synguard::engine {

/// Counters for one service (destination address, port) or one source prefix (port 0).
struct CounterEntry {
  IpAddress addr;
  std::uint16_t port = 0;
  bool in_use = false;
  bool on_idle = false;
  std::uint32_t half_open = 0;
  std::uint32_t peak_half_open = 0;
  std::uint32_t proxied = 0;  ///< proxied connections held (source entries, proxy.max_per_source)
  std::uint64_t syns = 0;
  RateMeter syn_rate;
  TokenBucket bucket;  ///< per-source SYN-rate limit (source entries of a configured service)
  std::uint32_t hash_next = kNoIndex;
  std::uint32_t idle_prev = kNoIndex;
  std::uint32_t idle_next = kNoIndex;
};

/// Fixed-capacity table of CounterEntry keyed by (address, port). Entries with no half-open
/// and no proxied connection sit on an idle list (least recently used first) and are recycled when
/// a new key needs a slot; when every entry holds half-open connections, new keys share the
/// overflow entry (index 0, address ::, port 0), so counting stays exact and memory stays bounded.
class CounterTable {
 public:
  static constexpr std::uint32_t kOverflow = 0;

  CounterTable(std::size_t capacity, std::uint64_t seed);

  /// The entry for (addr, port), created or recycled if needed; kOverflow when none is free.
  std::uint32_t findOrInsert(const IpAddress& addr, std::uint16_t port) noexcept;
  /// Lookup only; kNoIndex when absent.
  std::uint32_t find(const IpAddress& addr, std::uint16_t port) const noexcept;

  void addHalfOpen(std::uint32_t idx) noexcept;
  void removeHalfOpen(std::uint32_t idx) noexcept;
  /// A proxied connection takes / releases a reference (the entry is then not recycled).
  void addProxied(std::uint32_t idx) noexcept;
  void removeProxied(std::uint32_t idx) noexcept;
  /// Records a SYN (for the rate) and refreshes the entry's place on the idle list.
  void recordSyn(std::uint32_t idx, std::uint32_t tick) noexcept;

  CounterEntry& at(std::uint32_t idx) noexcept { return entries_[idx]; }
  const CounterEntry& at(std::uint32_t idx) const noexcept { return entries_[idx]; }
  std::size_t capacity() const noexcept { return entries_.size(); }
  std::uint64_t recycled() const noexcept { return recycled_; }
  std::uint64_t overflowed() const noexcept { return overflowed_; }

  template <typename F>
  void forEach(F&& fn) const {
    for (std::uint32_t i = 0; i < entries_.size(); ++i) {
      if (entries_[i].in_use) {
        fn(i, entries_[i]);
      }
    }
  }

 private:
  std::uint32_t bucketOf(const IpAddress& addr, std::uint16_t port) const noexcept;
  void idlePush(std::uint32_t idx) noexcept;
  void idleUnlink(std::uint32_t idx) noexcept;
  void unlinkBucket(std::uint32_t idx) noexcept;

  std::vector<CounterEntry> entries_;
  std::vector<std::uint32_t> buckets_;
  std::uint32_t bucket_mask_ = 0;
  std::uint32_t next_unused_ = 1;
  std::uint32_t idle_first_ = kNoIndex;
  std::uint32_t idle_last_ = kNoIndex;
  FlowHasher hasher_;
  std::uint64_t recycled_ = 0;
  std::uint64_t overflowed_ = 0;
};

struct HalfOpenConfig {
  std::size_t service_capacity = 65536;
  std::size_t source_capacity = 262144;
  unsigned source_prefix_v4 = 24;
  unsigned source_prefix_v6 = 64;
};

/// Exact half-open accounting at three levels (global, per service, per source prefix), plus SYN
/// rates. A connection holds one reference on its service and source entries while it is
/// counted (Connection::flags & kConnHalfOpenCounted); every exit from half-open releases both.
class HalfOpenAccounting {
 public:
  HalfOpenAccounting(const HalfOpenConfig& cfg, std::uint64_t seed);

  /// The service and source entries a SYN was counted on.
  struct SynRefs {
    std::uint32_t service = kNoIndex;
    std::uint32_t source = kNoIndex;
  };
  /// A SYN from the originator of `key` at `tick`: updates the SYN counts and rates.
  /// `source_tag` splits source counters (0: one per prefix; the engine passes the configured
  /// service + 1, so per-source limits count per service).
  SynRefs recordSyn(const FlowKey& key, std::uint32_t tick, std::uint16_t source_tag = 0) noexcept;
  /// The connection becomes half-open: counts it at all three levels, on the entries its SYN
  /// was recorded on (same packet, so they are still the connection's).
  void enter(Connection& c, SynRefs refs) noexcept;
  /// The connection stops being half-open (completion, RST, timeout, eviction, reopen).
  void leave(Connection& c) noexcept;

  std::uint64_t global() const noexcept { return global_; }
  std::uint64_t peak() const noexcept { return peak_; }
  std::int64_t peakTimeNs() const noexcept { return peak_time_ns_; }
  void notePeakTime(std::int64_t now_ns) noexcept;
  RateMeter& globalSynRate() noexcept { return global_syn_rate_; }
  /// SYNs another path answered (the XDP fast path): they count towards the global SYN figures
  /// only, as nothing says which source prefix or destination they had.
  void recordOffloadedSyns(std::uint32_t tick, std::uint32_t n) noexcept {
    global_syns_ += n;
    global_syn_rate_.add(tick, n);
  }
  std::uint64_t globalSyns() const noexcept { return global_syns_; }

  IpAddress sourcePrefix(const IpAddress& a) const noexcept;
  unsigned sourcePrefixLength(const IpAddress& a) const noexcept;

  CounterTable& services() noexcept { return services_; }
  CounterTable& sources() noexcept { return sources_; }
  const CounterTable& services() const noexcept { return services_; }
  const CounterTable& sources() const noexcept { return sources_; }

 private:
  HalfOpenConfig cfg_;
  CounterTable services_;
  CounterTable sources_;
  std::uint64_t global_ = 0;
  std::uint64_t peak_ = 0;
  std::int64_t peak_time_ns_ = 0;
  bool peak_dirty_ = false;
  std::uint64_t global_syns_ = 0;
  RateMeter global_syn_rate_;
};

}  // namespace synguard::engine
