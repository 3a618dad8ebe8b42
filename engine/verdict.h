#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace synguard::engine {

enum class Action : std::uint8_t { kAccept, kDrop };

/// Why a packet got its verdict. Finer detail (which parse error, which invalid reason) is in
/// EngineStats.
enum class VerdictReason : std::uint8_t {
  kTracked,    ///< accept: a valid segment of a tracked connection
  kIgnored,    ///< accept: plausible but changes nothing (SYN on a synchronized connection,
               ///< in-window RST left for the endpoint's challenge ACK, retransmissions)
  kInvalid,    ///< accept (tracking-only policy): out of window or out of state, counted
  kUntracked,  ///< accept: no table slot (full of established connections) or no pickup
  kNotTcp,     ///< accept: not TCP, nothing for the tracker
  kFragment,   ///< accept: IP fragment, counted, not reassembled
  kMalformed,  ///< drop: the packet does not parse (see ParseError)
  kCount,
};
constexpr std::size_t kVerdictReasonCount = static_cast<std::size_t>(VerdictReason::kCount);

struct Verdict {
  Action action = Action::kAccept;
  VerdictReason reason = VerdictReason::kTracked;

  static constexpr Verdict accept(VerdictReason r) noexcept { return {Action::kAccept, r}; }
  static constexpr Verdict drop(VerdictReason r) noexcept { return {Action::kDrop, r}; }
  constexpr bool operator==(const Verdict&) const noexcept = default;
};

std::string_view toString(Action a) noexcept;
std::string_view toString(VerdictReason r) noexcept;

}  // namespace synguard::engine
