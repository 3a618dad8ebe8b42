#include "engine/protect/translate.h"

#include "engine/packet/checksum.h"

namespace synguard::engine {

namespace {

std::uint32_t load32(const std::byte* p) noexcept {
  return (std::to_integer<std::uint32_t>(p[0]) << 24) |
         (std::to_integer<std::uint32_t>(p[1]) << 16) |
         (std::to_integer<std::uint32_t>(p[2]) << 8) | std::to_integer<std::uint32_t>(p[3]);
}

void store32(std::byte* p, std::uint32_t v) noexcept {
  p[0] = static_cast<std::byte>(v >> 24);
  p[1] = static_cast<std::byte>(v >> 16);
  p[2] = static_cast<std::byte>(v >> 8);
  p[3] = static_cast<std::byte>(v);
}

/// Patches fields of one packet and keeps its TCP checksum right.
class Patcher {
 public:
  Patcher(std::span<std::byte> packet, const Segment& seg, bool partial) noexcept
      : p_(packet), seg_(seg), partial_(partial) {
    if (!p_.empty()) {
      check_ = static_cast<std::uint16_t>(
          (std::to_integer<std::uint16_t>(p_[seg.tcp_offset + 16U]) << 8) |
          std::to_integer<std::uint16_t>(p_[seg.tcp_offset + 17U]));
    }
  }
  /// Adds `delta` to the 32-bit field at `offset` (from the start of the packet).
  void add32(std::size_t offset, std::uint32_t delta) noexcept {
    if (p_.empty() || delta == 0) {
      return;
    }
    const std::uint32_t old = load32(p_.data() + offset);
    const std::uint32_t now = old + delta;
    store32(p_.data() + offset, now);
    check_ = checksumUpdate32(check_, aligned32(offset, old), aligned32(offset, now));
    dirty_ = true;
  }
  void set16(std::size_t offset, std::uint16_t value) noexcept {
    if (p_.empty()) {
      return;
    }
    const auto old = static_cast<std::uint16_t>((std::to_integer<std::uint16_t>(p_[offset]) << 8) |
                                                std::to_integer<std::uint16_t>(p_[offset + 1]));
    if (old == value) {
      return;
    }
    p_[offset] = static_cast<std::byte>(value >> 8);
    p_[offset + 1] = static_cast<std::byte>(value);
    check_ = checksumUpdate16(check_, aligned16(offset, old), aligned16(offset, value));
    dirty_ = true;
  }
  void finish() noexcept {
    if (p_.empty() || !dirty_) {
      return;
    }
    const std::size_t csum = seg_.tcp_offset + 16U;
    if (partial_) {
      // The field held only the pseudo-header sum; NFQUEUE marks a mangled packet
      // CHECKSUM_NONE, so the full checksum is ours to write.
      p_[csum] = std::byte{0};
      p_[csum + 1] = std::byte{0};
      const std::size_t tcp_len = p_.size() - seg_.tcp_offset;
      check_ = tcpChecksum(p_, seg_.tcp_offset, tcp_len);
    }
    p_[csum] = static_cast<std::byte>(check_ >> 8);
    p_[csum + 1] = static_cast<std::byte>(check_);
  }

 private:
  // The checksum sums 16-bit words counted from the TCP header (which starts at an even
  // offset): a field on an odd byte adds its bytes swapped within each word (RFC 1071 §2(B)),
  // so the incremental update (RFC 1624) must see it so. Options may sit anywhere.
  static std::uint32_t aligned32(std::size_t offset, std::uint32_t v) noexcept {
    return (offset & 1U) == 0 ? v : ((v & 0x00ff00ffU) << 8) | ((v >> 8) & 0x00ff00ffU);
  }
  static std::uint16_t aligned16(std::size_t offset, std::uint16_t v) noexcept {
    return (offset & 1U) == 0 ? v : static_cast<std::uint16_t>((v << 8) | (v >> 8));
  }

  std::span<std::byte> p_;
  const Segment& seg_;
  bool partial_;
  bool dirty_ = partial_;  // a partial checksum is always completed
  std::uint16_t check_ = 0;
};

}  // namespace

void translateToServer(std::span<std::byte> packet, Segment& seg, const Translation& t,
                       bool checksum_partial) noexcept {
  Patcher p(packet, seg, checksum_partial);
  if (seg.has(kAck)) {
    p.add32(seg.tcp_offset + 8U, t.seq_delta);
    seg.ack = seg.ack + t.seq_delta;
  }
  if (seg.options.sack_offset != 0) {
    for (std::size_t i = 0; i < seg.options.sack_count; ++i) {
      const std::size_t at = seg.options.sack_offset + 8 * i;
      p.add32(at, t.seq_delta);
      p.add32(at + 4, t.seq_delta);
      seg.options.sack[i].left = seg.options.sack[i].left + t.seq_delta;
      seg.options.sack[i].right = seg.options.sack[i].right + t.seq_delta;
    }
  }
  if (seg.options.has_timestamps && seg.options.ts_offset != 0) {
    p.add32(seg.options.ts_offset + 4U, 0U - t.ts_off);
    seg.options.ts_ecr -= t.ts_off;
  }
  if (t.client_shift_c != t.client_shift_s && !seg.has(kSyn)) {
    seg.window = rescaleWindow(seg.window, t.client_shift_c, t.client_shift_s);
    p.set16(seg.tcp_offset + 14U, seg.window);
  }
  p.finish();
}

void translateToClient(std::span<std::byte> packet, Segment& seg, const Translation& t,
                       bool checksum_partial) noexcept {
  Patcher p(packet, seg, checksum_partial);
  p.add32(seg.tcp_offset + 4U, 0U - t.seq_delta);
  seg.seq = seg.seq - t.seq_delta;
  if (seg.options.has_timestamps && seg.options.ts_offset != 0) {
    p.add32(seg.options.ts_offset, t.ts_off);
    seg.options.ts_val += t.ts_off;
  }
  if (t.server_shift_s != t.server_shift_c && !seg.has(kSyn)) {
    seg.window = rescaleWindow(seg.window, t.server_shift_s, t.server_shift_c);
    p.set16(seg.tcp_offset + 14U, seg.window);
  }
  p.finish();
}

}  // namespace synguard::engine
