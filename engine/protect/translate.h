#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "engine/packet/segment.h"

namespace synguard::engine {

/// How a proxied connection's two halves differ. The client saw our cookie SYN-ACK (ISN =
/// cookie, TSval = ours, window scale = ours); the server chose its own ISN, timestamp clock and
/// window scale. Everything is expressed as the change applied client -> server; the other way
/// is the inverse.
struct Translation {
  std::uint32_t seq_delta = 0;  ///< server ISN - cookie ISN (server sequence space)
  std::uint32_t ts_off = 0;     ///< client-visible TSval - server TSval (server timestamp clock)
  /// Window shifts as each side believes them. The client's windows are scaled by
  /// `client_shift_c` in the client's view and read with `client_shift_s` by the server; the
  /// server's windows are scaled by `server_shift_s` and read by the client with `server_shift_c`.
  std::uint8_t client_shift_c = 0;
  std::uint8_t client_shift_s = 0;
  std::uint8_t server_shift_s = 0;
  std::uint8_t server_shift_c = 0;
};

/// Rewrites a client -> server segment in `packet` (and `seg`, its parse): the ACK number and
/// SACK blocks move into the server's sequence space, TSecr into the server's timestamp clock,
/// and the window is rescaled when the two sides' shifts differ. The TCP checksum is updated
/// incrementally (RFC 1624), or recomputed over the whole segment when `checksum_partial` (the
/// kernel handed us a CHECKSUM_PARTIAL packet whose field holds only the pseudo-header sum).
/// `packet` may be empty: only `seg` is translated.
void translateToServer(std::span<std::byte> packet, Segment& seg, const Translation& t,
                       bool checksum_partial) noexcept;

/// Rewrites a server -> client segment: the sequence number moves into the cookie's sequence
/// space, TSval onto the client-visible timestamp clock, and the window is rescaled.
void translateToClient(std::span<std::byte> packet, Segment& seg, const Translation& t,
                       bool checksum_partial) noexcept;

/// A window of `raw` scaled by `from` as read by a peer applying `to` (clamped to 16 bits,
/// rounded down as a receiver rounds its own advertisement).
constexpr std::uint16_t rescaleWindow(std::uint16_t raw, std::uint8_t from,
                                      std::uint8_t to) noexcept {
  const std::uint64_t bytes = std::uint64_t{raw} << from;
  const std::uint64_t w = bytes >> to;
  return static_cast<std::uint16_t>(w > 0xffff ? 0xffff : w);
}

}  // namespace synguard::engine
