#pragma once

#include <optional>

#include "engine/packet/segment.h"
#include "engine/stats.h"
#include "engine/track/connection.h"

namespace synguard::engine {

// Numeric guards, run before the transition table in the order of RFC 9293 §3.10.7.4 (sequence
// acceptability, RST, SYN, ACK). Pure functions over the two endpoint views.

/// RFC 7323 §2.3: a shift above 14 is treated as 14.
constexpr std::uint8_t kMaxWindowScale = 14;
/// Linux conntrack's MAXACKWINDOW floor: acks may lag the data by at least this much.
constexpr std::uint32_t kMinAckWindow = 66000;

/// The window the segment advertises, scaled when scaling is in effect for its sender. SYN and
/// SYN-ACK windows are never scaled (RFC 7323 §2.2).
std::uint32_t scaledWindow(const EndpointView& sender, const Segment& seg) noexcept;

/// Initialises the sender's view from its SYN or SYN-ACK (conntrack's "td_end = td_maxend = end").
void initFromSyn(EndpointView& sender, const Segment& seg) noexcept;

/// After the SYN-ACK: window scaling applies only if both SYN and SYN-ACK offered it
/// (RFC 7323 §2.2); otherwise neither side scales.
void settleWindowScale(EndpointView& orig, EndpointView& resp) noexcept;

/// RFC 9293 §3.10.7.3 / §3.10.7.4 step 5: does this ACK acknowledge the receiver's FIN?
bool acksFin(const EndpointView& receiver, const Segment& seg) noexcept;

/// The sequence-window test in the spirit of netfilter's tcp_in_window, returning the first
/// failed bound: (I) seq <= sender.max_end, (II) end >= sender.end - receiver.max_win,
/// (III) ack <= receiver.end, (IV) ack >= receiver.end - max(sender.max_win, 66000).
/// Also rejects data or a FIN past the sender's own FIN.
std::optional<InvalidReason> checkWindow(const EndpointView& sender, const EndpointView& receiver,
                                         const Segment& seg) noexcept;

/// Records an accepted segment: advances the sender's end and max window, the receiver's
/// max_end (ack + window), and the sender's max ack.
void updateWindow(EndpointView& sender, EndpointView& receiver, const Segment& seg) noexcept;

enum class RstCheck { kExact, kInWindow, kOutOfWindow, kNotAcceptable };
/// RFC 5961 §3.2 / RFC 9293 §3.10.7.4 step 2: a RST is acceptable only if its seq is exactly the
/// receiver's RCV.NXT (as seen: the receiver's highest ack, or the sender's end when data is in
/// flight); in-window RSTs get a challenge ACK from the endpoint. §3.10.7.3: in SYN-SENT a RST
/// counts only if it ACKs the SYN.
/// Takes `seg` as the sender's new position after segments that bypassed us (the kernel let an
/// established connection skip the queue): its end, its ack and the receiver's right edge.
void resyncSender(EndpointView& sender, EndpointView& receiver, const Segment& seg) noexcept;

RstCheck checkRst(const EndpointView& sender, const EndpointView& receiver,
                  const Segment& seg) noexcept;

}  // namespace synguard::engine
