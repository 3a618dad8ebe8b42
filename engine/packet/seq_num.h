#pragma once

#include <compare>
#include <cstdint>

namespace synguard::engine {

/// A TCP sequence number: 32-bit modular arithmetic, compared by signed difference
/// (RFC 9293 §3.4; the same rule as Linux before()/after(), Seastar tcp_seq, gVisor seqnum).
class SeqNum {
 public:
  constexpr SeqNum() noexcept = default;
  constexpr explicit SeqNum(std::uint32_t raw) noexcept : raw_(raw) {}

  constexpr std::uint32_t raw() const noexcept { return raw_; }

  /// Signed distance from `other` to this, valid while |distance| < 2^31.
  constexpr std::int32_t operator-(SeqNum other) const noexcept {
    return static_cast<std::int32_t>(raw_ - other.raw_);
  }
  constexpr SeqNum operator+(std::uint32_t n) const noexcept { return SeqNum{raw_ + n}; }
  constexpr SeqNum operator-(std::uint32_t n) const noexcept { return SeqNum{raw_ - n}; }
  constexpr SeqNum& operator+=(std::uint32_t n) noexcept {
    raw_ += n;
    return *this;
  }

  constexpr bool operator==(const SeqNum&) const noexcept = default;
  constexpr bool before(SeqNum o) const noexcept { return (*this - o) < 0; }
  constexpr bool after(SeqNum o) const noexcept { return (*this - o) > 0; }
  constexpr bool beforeOrEq(SeqNum o) const noexcept { return (*this - o) <= 0; }
  constexpr bool afterOrEq(SeqNum o) const noexcept { return (*this - o) >= 0; }

  /// True when lo <= this <= hi in sequence space.
  constexpr bool between(SeqNum lo, SeqNum hi) const noexcept {
    return (raw_ - lo.raw_) <= (hi.raw_ - lo.raw_);
  }

 private:
  std::uint32_t raw_ = 0;
};

constexpr SeqNum seqMax(SeqNum a, SeqNum b) noexcept { return a.after(b) ? a : b; }
constexpr SeqNum seqMin(SeqNum a, SeqNum b) noexcept { return a.before(b) ? a : b; }

}  // namespace synguard::engine
