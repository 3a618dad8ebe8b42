#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "engine/protect/translate.h"
#include "engine/track/connection.h"

namespace synguard::engine {

/// Where a proxied connection's server-side handshake stands.
enum class ProxyPhase : std::uint8_t {
  kFree,
  kSynSent,      ///< cookie validated, our SYN is on its way to the server
  kAckDelayed,   ///< the server's SYN-ACK arrived; our ACK waits out the client's RTT
  kEstablished,  ///< both halves joined: every segment is translated
};
std::string_view toString(ProxyPhase p) noexcept;

enum ProxyFlag : std::uint16_t {
  kPxClientTs = 0x001,
  kPxClientWs = 0x002,
  kPxClientSack = 0x004,
  kPxClientEcn = 0x008,
  kPxServerTs = 0x010,
  kPxServerWs = 0x020,
  kPxServerSack = 0x040,
  kPxServerEcn = 0x080,
  kPxAnnouncedWs = 0x100,  ///< our cookie SYN-ACK offered window scaling
  kPxAnnouncedTs = 0x200,  ///< our cookie SYN-ACK carried timestamps
  kPxHeld = 0x400,         ///< the client was held with a zero window
  kPxRttMeasured = 0x800,  ///< client_rtt_us comes from the client's timestamp echo
  /// Offered to the kernel (proxy.handoff): conntrack translates it while the daemon's sets
  /// keep its segments out of the queue; cleared when the engine takes it back.
  kPxHandedOff = 0x1000,
};

/// Translation state of one proxied connection (the tracker's Connection holds the rest).
struct ProxyEntry {
  Translation tr;
  std::uint32_t conn = kNoIndex;        ///< connection table slot
  std::uint32_t client_isn = 0;         ///< the client's ISN (our SYN to the server carries it)
  std::uint32_t cookie_isn = 0;         ///< our ISN towards the client
  std::uint32_t server_isn = 0;         ///< the server's ISN (from its SYN-ACK)
  std::uint32_t client_tsval = 0;       ///< latest TSval from the client
  std::uint32_t server_tsval = 0;       ///< TSval of the server's SYN-ACK
  std::uint32_t cookie_tsval = 0;       ///< TSval of our cookie SYN-ACK (the client's first TSecr)
  std::uint32_t client_rtt_us = 0;      ///< measured (or assumed) client RTT
  std::uint32_t deadline = 0;           ///< tick: give-up (kSynSent) or ACK due (kAckDelayed)
  std::uint32_t last_syn = 0;           ///< tick our SYN was last sent
  std::uint32_t early_head = kNoIndex;  ///< buffered client segments (ProxyTable pool)
  std::uint32_t early_tail = kNoIndex;
  std::uint32_t service = kNoIndex;  ///< configured service
  std::uint32_t source = kNoIndex;   ///< source counter holding a `proxied` reference, or none
  std::uint32_t next_free = kNoIndex;
  std::uint16_t flags = 0;          ///< ProxyFlag bits
  std::uint16_t client_mss = 0;     ///< MSS recovered from the cookie
  std::uint16_t client_window = 0;  ///< raw window of the client's latest segment
  std::uint16_t server_window = 0;  ///< window of the server's SYN-ACK (unscaled)
  std::uint8_t client_wscale = 0;
  std::uint8_t server_wscale = 0;
  std::uint8_t announced_wscale = 0;
  std::uint8_t syn_sends = 0;
  std::uint8_t early_count = 0;
  ProxyPhase phase = ProxyPhase::kFree;

  bool has(std::uint16_t f) const noexcept { return (flags & f) != 0; }
};

/// Fixed-capacity store of ProxyEntry, the deadline heap of their handshakes, and a pool of
/// buffers for client segments that arrive before the server's handshake completes.
/// Memory is allocated once: bytesPerConnection() is what each proxied connection costs.
class ProxyTable {
 public:
  static constexpr std::size_t kEarlyBufferSize = 2048;

  ProxyTable(std::size_t capacity, std::size_t early_buffers);

  /// A free entry for connection slot `conn`, or kNoIndex when full.
  std::uint32_t allocate(std::uint32_t conn) noexcept;
  void release(std::uint32_t idx) noexcept;
  ProxyEntry& at(std::uint32_t idx) noexcept { return entries_[idx]; }
  const ProxyEntry& at(std::uint32_t idx) const noexcept { return entries_[idx]; }
  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return entries_.size(); }
  std::size_t pendingHandshakes() const noexcept { return pending_; }
  void notePhase(ProxyPhase from, ProxyPhase to) noexcept;

  /// Deadlines: (tick, entry). Stale ones (the entry moved on) are skipped by the caller.
  void schedule(std::uint32_t idx, std::uint32_t tick) noexcept;
  /// Pops the earliest deadline at or before `tick`; false when none is due.
  bool popDue(std::uint32_t tick, std::uint32_t& idx, std::uint32_t& due) noexcept;
  /// The earliest scheduled deadline (stale ones included), if any.
  bool nextDeadline(std::uint32_t& tick) const noexcept;

  /// Keeps a copy of a client segment for the entry; false when it does not fit.
  bool keepEarly(std::uint32_t idx, std::span<const std::byte> packet,
                 std::size_t per_connection) noexcept;
  /// Calls fn(std::span<std::byte>) on each kept segment in arrival order, then frees them.
  template <typename F>
  void drainEarly(std::uint32_t idx, F&& fn) noexcept {
    ProxyEntry& e = entries_[idx];
    std::uint32_t b = e.early_head;
    while (b != kNoIndex) {
      fn(std::span<std::byte>(pool_.data() + std::size_t{b} * kEarlyBufferSize, lengths_[b]));
      --early_in_use_;
      const std::uint32_t next = early_next_[b];
      early_next_[b] = early_free_;
      early_free_ = b;
      b = next;
    }
    e.early_head = e.early_tail = kNoIndex;
    e.early_count = 0;
  }
  void dropEarly(std::uint32_t idx) noexcept;
  std::size_t earlyBuffersInUse() const noexcept { return early_in_use_; }

  /// Memory per proxied connection: the entry, its share of the heap, and its share of the
  /// early-segment pool.
  std::size_t bytesPerConnection() const noexcept;

 private:
  struct Deadline {
    std::uint32_t tick;
    std::uint32_t idx;
  };
  std::vector<ProxyEntry> entries_;
  std::uint32_t free_ = kNoIndex;
  std::size_t size_ = 0;
  std::size_t pending_ = 0;
  std::vector<Deadline> heap_;
  std::vector<std::byte> pool_;
  std::vector<std::uint16_t> lengths_;
  std::vector<std::uint32_t> early_next_;
  std::uint32_t early_free_ = kNoIndex;
  std::size_t early_in_use_ = 0;
};

}  // namespace synguard::engine
