#pragma once

// What the daemon reports of the XDP fast path, without libbpf: the per-interface figures the
// metrics and `synguard status` show, the names of the program's counters, and the running
// totals made of its per-slot counters. Plain data; XdpPath fills it on the main thread.

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/inline/xdp/xdp_abi.h"

namespace synguard::daemon::xdp {

/// How an interface has the program now.
enum class AttachMode : std::uint8_t { kNone, kNative, kGeneric };
/// "native", "generic", or "none".
const char* toString(AttachMode m) noexcept;

/// Counter values indexed by sg_xdp_counter.
using CounterArray = std::array<std::uint64_t, SG_XDP_NCOUNTERS>;

/// The metric labels of one sg_xdp_counter: its action (tx, pass or drop) and its reason (the
/// enumerator's name in lower case, without the action: SG_XDP_PASS_NOT_SYN → "not_syn").
struct CounterLabels {
  std::string_view action;
  std::string_view reason;
};
CounterLabels counterLabels(sg_xdp_counter c) noexcept;

/// One configured interface as the metrics and `synguard status` show it.
struct InterfaceFigures {
  std::string name;
  AttachMode mode = AttachMode::kNone;
  CounterArray counters{};       ///< totals since the daemon started, by sg_xdp_counter
  std::uint64_t reattaches = 0;  ///< attached again after it disappeared (new ifindex)

  std::uint64_t answered() const noexcept { return counters[SG_XDP_TX_COOKIE]; }
  std::uint64_t dropped() const noexcept { return counters[SG_XDP_DROP_DENIED]; }
  /// Everything handed to the kernel (and the queue): every pass reason.
  std::uint64_t passed() const noexcept;
};

/// Per-interface totals made monotonic from the program's per-slot counters: a slot's counters
/// keep counting whichever interface holds it, so each reading adds the slot's increase since
/// the last one to the interface that held the slot meanwhile. Not thread-safe.
class CounterTotals {
 public:
  /// A reading of slot `slot` (held by `name` since the last reading of that slot).
  void add(std::size_t slot, const std::string& name, const CounterArray& reading);
  /// The slot changes hands: its next reading starts from `reading` (counted to nobody).
  void rebase(std::size_t slot, const CounterArray& reading);
  /// Totals of `name` (zeros if never read).
  CounterArray totals(const std::string& name) const;

 private:
  std::map<std::size_t, CounterArray> last_;
  std::map<std::string, CounterArray> totals_;
};

}  // namespace synguard::daemon::xdp
