#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "engine/clock.h"
#include "engine/packet/flow_key.h"
#include "engine/packet/segment.h"
#include "engine/stats.h"
#include "engine/track/connection_table.h"
#include "engine/track/half_open.h"
#include "engine/track/track_listener.h"
#include "engine/verdict.h"

namespace synguard::engine {

/// Per-state timeouts. Defaults follow Linux conntrack (nf_conntrack_tcp_timeout_*), with
/// TIME-WAIT = 2 * MSL (RFC 9293 §3.4.2, MSL = 60 s as Linux assumes).
struct Timeouts {
  std::chrono::milliseconds syn_sent{std::chrono::seconds(120)};
  std::chrono::milliseconds syn_received{std::chrono::seconds(60)};
  std::chrono::milliseconds established{std::chrono::hours(24 * 5)};
  std::chrono::milliseconds fin_wait{std::chrono::seconds(120)};
  std::chrono::milliseconds close_wait{std::chrono::seconds(60)};
  std::chrono::milliseconds closing{std::chrono::seconds(120)};
  std::chrono::milliseconds last_ack{std::chrono::seconds(30)};
  std::chrono::milliseconds time_wait{std::chrono::seconds(2 * 60)};
  std::chrono::milliseconds closed{std::chrono::seconds(10)};
  /// Unassured entries (Connection::assured): those not half-open live this long idle whatever
  /// their state (a separate timer list); half-open ones min(their state's timeout, this).
  std::chrono::milliseconds unassured{std::chrono::seconds(30)};

  std::chrono::milliseconds forState(TcpState s) const noexcept;
};

/// Emergency mode (as Suricata's flow engine has): above `enter_fill` of capacity, half-open and
/// closing connections get the short timeouts below; below `leave_fill` the normal ones return.
struct EmergencyConfig {
  double enter_fill = 0.90;
  double leave_fill = 0.70;
  Timeouts timeouts{
      .syn_sent = std::chrono::seconds(10),
      .syn_received = std::chrono::seconds(5),
      .established = std::chrono::hours(24 * 5),  // never shortened
      .fin_wait = std::chrono::seconds(10),
      .close_wait = std::chrono::seconds(10),
      .closing = std::chrono::seconds(10),
      .last_ack = std::chrono::seconds(5),
      .time_wait = std::chrono::seconds(10),
      .closed = std::chrono::seconds(2),
      .unassured = std::chrono::seconds(5),
  };
};

/// The part of EngineConfig the Tracker reads (EngineConfig documents each field).
struct TrackerConfig {
  std::size_t table_capacity = 1U << 20;
  double assured_reserve = 0.25;
  Timeouts timeouts;
  EmergencyConfig emergency;
  HalfOpenConfig half_open;
  bool record_stray = false;
  bool bypass_established = false;
  std::chrono::milliseconds attempt_timeout{0};
};

/// Flag combinations no conforming TCP sends (conntrack's tcp_valid_flags, RFC 9293 §3.10.7):
/// SYN with FIN or RST, FIN without ACK (FIN/Xmas scans), and segments with none of
/// SYN/ACK/RST (NULL scans). RST may come with or without ACK.
inline bool validFlags(std::uint8_t f) noexcept {
  const bool syn = (f & kSyn) != 0;
  const bool fin = (f & kFin) != 0;
  const bool rst = (f & kRst) != 0;
  const bool ack = (f & kAck) != 0;
  if (syn && (fin || rst)) {
    return false;
  }
  if (rst) {
    return !fin;
  }
  if (fin && !ack) {
    return false;
  }
  return syn || ack;
}

/// The tracking stage: the connection table and its timer lists, half-open accounting, the
/// engine's tick clock, timeouts (emergency ones when the table fills) and the unassured share.
/// It follows each connection's segments through both endpoints' states and reports what the
/// stage above must know (half-open changes, ends) to its TrackListener. Verdicts it returns
/// are not counted: the pipeline counts each packet's once.
/// Not thread-safe; bound to the engine's counters and listener by bind() (again after a move).
class Tracker {
 public:
  Tracker(const TrackerConfig& cfg, std::uint64_t hash_seed);

  /// `half_open_events`: whether the listener hears of half-open changes (it has services to
  /// count them for); ends are always reported.
  void bind(EngineStats& stats, TrackListener& listener, bool half_open_events) noexcept {
    stats_ = &stats;
    listener_ = &listener;
    half_open_events_ = half_open_events;
  }
  /// New timeouts, emergency marks, reserve and policies; sizes stay.
  void reconfigure(const TrackerConfig& cfg) noexcept;

  /// Takes a reading of the clock; engine time starts at the first and never steps back.
  MonotonicTime advance(MonotonicTime now) noexcept {
    if (!started_) {
      started_ = true;
      epoch_ = now;
      latest_ = now;
    }
    // Captures can step backwards (merged files, reordering): engine time never does.
    if (now < latest_) {
      now = latest_;
    }
    latest_ = now;
    return now;
  }
  bool started() const noexcept { return started_; }
  MonotonicTime latest() const noexcept { return latest_; }
  /// Ticks: wrapping milliseconds since the first reading.
  std::uint32_t tickOf(MonotonicTime t) const noexcept {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t - epoch_).count();
    return static_cast<std::uint32_t>(static_cast<std::uint64_t>(ms));
  }
  std::uint32_t latestTick() const noexcept { return tickOf(latest_); }
  /// Absolute time of a tick at or before the latest time seen.
  MonotonicTime timeOfTick(std::uint32_t tick) const noexcept;
  std::chrono::milliseconds timeoutFor(TcpState s) const noexcept {
    return stats_->emergency != 0 ? cfg_.emergency.timeouts.forState(s) : cfg_.timeouts.forState(s);
  }

  ConnectionTable& table() noexcept { return *table_; }
  const ConnectionTable& table() const noexcept { return *table_; }
  Connection& at(std::uint32_t idx) noexcept { return table_->at(idx); }
  HalfOpenAccounting& halfOpen() noexcept { return *half_open_; }
  const HalfOpenAccounting& halfOpen() const noexcept { return *half_open_; }

  /// The connection of a packet's tuple. An unassured entry found past its state's own
  /// timeout (shorter than the unassured list's) is ended first and not found.
  ConnectionTable::Found find(const FlowKey& tuple, std::uint64_t hash,
                              std::uint32_t tick) noexcept {
    ConnectionTable::Found found = table_->find(tuple, hash);
    if (found.idx != kNoIndex && !table_->at(found.idx).assured() &&
        !isHalfOpen(table_->at(found.idx).state)) {
      endIfOver(found, tick);
    }
    return found;
  }
  /// Whether a segment (`syn`: a valid SYN) ends the connection the table holds instead of
  /// continuing it: a SYN reusing a closed tuple or superseding an unassured entry, an attempt
  /// over. The connection is then ended, and the segment judged as the start of a new one.
  bool endsHeld(const ConnectionTable::Found& found, bool syn, MonotonicTime now) noexcept;
  /// A segment of a connection the table holds (not a proxied one, not ended by endsHeld).
  Verdict trackHeld(const ConnectionTable::Found& found, const Segment& seg,
                    const HalfOpenAccounting::SynRefs* syn_refs, std::uint32_t tick) noexcept;
  /// A segment that cannot start a connection (bad flags, a RST): kept in CLOSED when
  /// record_stray asks so (oriented by its ports), invalid either way.
  Verdict refuseStray(const FlowKey& tuple, std::uint64_t hash, const Segment& seg,
                      std::uint32_t tick) noexcept;
  /// A new connection for `key` (the tuple oriented originator first), started by a SYN
  /// (`syn_refs`) or picked up mid-stream (nullptr), then tracking its first segment.
  Verdict open(const FlowKey& key, std::uint64_t hash, const Segment& seg, bool from_orig,
               const HalfOpenAccounting::SynRefs* syn_refs, std::uint32_t tick) noexcept;
  /// Orientation of a mid-stream pickup by ports alone: the source looks like the server.
  static bool serverPortFirst(const Segment& seg) noexcept;

  /// One segment of connection `idx` through both endpoints' states. `syn_refs`: the SYN's
  /// accounting entries, counted when the segment makes the connection half-open.
  Verdict track(std::uint32_t idx, bool from_orig, const Segment& seg, std::uint32_t tick,
                const HalfOpenAccounting::SynRefs* syn_refs) noexcept;
  /// A slot for a new connection (`assured`: a proxied one), evicting to make room if needed.
  std::uint32_t allocate(const FlowKey& key, std::uint64_t hash, bool assured = false) noexcept;
  void setState(Connection& c, TcpState next) noexcept;
  /// Refreshes a connection on the timer list its state (and assurance) belong on.
  void touch(std::uint32_t idx, std::uint32_t tick) noexcept {
    table_->touch(idx, listFor(table_->at(idx)), tick);
  }
  void end(std::uint32_t idx, EndCause cause) noexcept;
  /// Ends every connection whose timeout has passed at `tick`.
  void expireUntil(std::uint32_t tick) noexcept;
  /// Ends every connection (kFlushed).
  void flush() noexcept;

 private:
  std::chrono::milliseconds unassuredTimeout() const noexcept {
    return stats_->emergency != 0 ? cfg_.emergency.timeouts.unassured : cfg_.timeouts.unassured;
  }
  void applyFillMarks() noexcept;
  /// Ends a found unassured entry whose own state's timeout has passed (and forgets it).
  void endIfOver(ConnectionTable::Found& found, std::uint32_t tick) noexcept;
  /// The timer list a connection belongs on (its state's, or the unassured list).
  std::uint8_t listFor(const Connection& c) const noexcept;
  /// Marks a connection assured (moving it to its state's list at its next touch).
  void assure(Connection& c) noexcept;
  /// The oldest unassured entry (`closing`: or closing entry), kNoIndex if none.
  std::uint32_t oldestEvictable(bool closing) const noexcept;
  void evict(std::uint32_t victim, EvictKind kind) noexcept;
  void updateEmergency() noexcept;
  void enterHalfOpen(Connection& c, const HalfOpenAccounting::SynRefs& refs) noexcept;
  void leaveHalfOpen(Connection& c) noexcept;
  void markBypass(Connection& c, const Segment& seg, Verdict& v) noexcept;
  /// What classifying a segment found: its event, whether it (re)defines its sender's
  /// sequence space, whether its window is checked.
  struct Step {
    TcpEvent ev = TcpEvent::kNone;
    bool init_sender = false;
    bool check_window = true;
  };
  /// A sender whose segments bypassed us takes this segment as its new position (true: judge
  /// it liberally); a FIN or RST ends the bypass.
  bool followResync(Connection& c, bool from_orig, const Segment& seg) noexcept;
  /// The segment's event, by the guards in RFC 9293 §3.10.7.4 order; a verdict when a guard
  /// settles the segment (an unacceptable RST, a SYN-ACK of another SYN).
  std::optional<Verdict> classify(Connection& c, bool from_orig, const Segment& seg,
                                  Step& step) noexcept;
  /// An accepted segment's effects: windows, both endpoints' states, the connection's state,
  /// half-open accounting, assurance.
  void apply(Connection& c, bool from_orig, const Segment& seg, const Step& step, TcpState ns,
             TcpState nr, const HalfOpenAccounting::SynRefs* syn_refs) noexcept;
  Verdict invalid(InvalidReason r) noexcept;

  TrackerConfig cfg_;
  EngineStats* stats_ = nullptr;
  TrackListener* listener_ = nullptr;
  bool half_open_events_ = true;
  std::unique_ptr<ConnectionTable> table_;
  std::unique_ptr<HalfOpenAccounting> half_open_;
  MonotonicTime epoch_{};
  MonotonicTime latest_{};
  bool started_ = false;
  std::size_t emergency_enter_ = 0;
  std::size_t emergency_leave_ = 0;
  std::size_t unassured_cap_ = 0;  ///< capacity * (1 - assured_reserve)
};

}  // namespace synguard::engine
