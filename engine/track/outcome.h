#pragma once

#include <string_view>

#include "engine/packet/segment.h"
#include "engine/track/connection.h"

namespace synguard::engine {

/// Records what each endpoint has been seen doing, whatever the tracker made of the segment
/// (invalid segments count too: this is an observer's account, as an analyst's log is).
/// `rst_acceptable` says whether a RST in `seg` could have reached its receiver's TCB (exact or
/// in window): a RST far outside the window, such as those stacks send after both FINs, is not
/// an observed reset.
void observeSegment(Connection& c, bool from_orig, const Segment& seg,
                    bool rst_acceptable = true) noexcept;

/// The connection's outcome in the vocabulary network analysts know from Zeek's conn.log
/// conn_state: S0 S1 SF REJ S2 S3 RSTO RSTR RSTOS0 RSTRH SH SHR OTH.
std::string_view outcomeCode(const Connection& c) noexcept;

/// Whether a first segment without SYN should make its receiver the originator: the sender's
/// port looks like a service port and the receiver's does not (or both do and the sender's is
/// lower, the more plausible server).
bool likelyServerPort(std::uint16_t port) noexcept;

}  // namespace synguard::engine
