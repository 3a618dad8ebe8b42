#include "engine/track/outcome.h"

#include <algorithm>
#include <array>

namespace synguard::engine {

namespace {

bool inactive(Observed o) noexcept {
  switch (o) {
    case Observed::kInactive:
    case Observed::kPartial:
      return true;
    case Observed::kSynSent:
    case Observed::kSynAckSent:
    case Observed::kEstablished:
    case Observed::kClosed:
    case Observed::kReset:
    case Observed::kResetAfterClose:
      return false;
  }
  return false;
}

bool reset(Observed o) noexcept { return o == Observed::kReset || o == Observed::kResetAfterClose; }

void setFlag(EndpointView& e, std::uint8_t f, bool on) noexcept {
  e.flags = static_cast<std::uint8_t>(on ? (e.flags | f) : (e.flags & ~f));
}

}  // namespace

void observeSegment(Connection& c, bool from_orig, const Segment& seg,
                    bool rst_acceptable) noexcept {
  EndpointView& s = c.ep[from_orig ? 0 : 1];
  EndpointView& p = c.ep[from_orig ? 1 : 0];
  const bool syn = seg.has(kSyn);
  const bool ack = seg.has(kAck);
  const bool fin = seg.has(kFin);
  const bool rst = seg.has(kRst) && rst_acceptable;

  // RSTOS0 needs: the originator's SYN came first, and until its RST it sent no SYN-ACK, no
  // FIN and no pure ACK. The flag is set when the connection is created by that SYN.
  if (from_orig && !reset(s.observed)) {
    const bool pure_ack = ack && !syn && !fin && !rst && seg.payload_len == 0;
    if ((syn && ack) || fin || pure_ack) {
      setFlag(s, kEpRstOs0Ok, false);
    }
  }
  if (seg.payload_len > 0) {
    setFlag(s, kEpDataSent, true);
  }

  const bool fresh = inactive(s.observed);
  if (syn) {
    if (from_orig) {
      if (fresh) {
        s.observed = ack ? Observed::kSynAckSent : Observed::kSynSent;
      }
    } else if (fresh || s.observed == Observed::kSynSent) {
      // The responder's SYN-ACK (or the SYN of a simultaneous open) completes the originator's
      // side of the handshake as an observer sees it.
      if (p.observed == Observed::kSynSent || p.observed == Observed::kSynAckSent) {
        p.observed = Observed::kEstablished;
      }
      s.observed = Observed::kEstablished;
    }
  }
  if (fin && !reset(s.observed)) {
    s.observed = Observed::kClosed;
    // The peer sent FIN and then RST (stacks reset data arriving on a closed socket); now that
    // this side closes too, the connection ended normally after all.
    if (p.observed == Observed::kResetAfterClose) {
      p.observed = Observed::kClosed;
    }
  }
  if (rst) {
    if (s.observed == Observed::kClosed) {
      // After a completed FIN exchange a RST changes nothing; after our FIN alone it may still
      // be undone by the peer's FIN (above).
      if (p.observed != Observed::kClosed) {
        s.observed = Observed::kResetAfterClose;
      }
    } else {
      s.observed = Observed::kReset;
    }
  }
  if (!syn && !fin && !rst && s.observed == Observed::kInactive) {
    if (!from_orig && seg.payload_len == 0 && p.observed == Observed::kSynSent) {
      // Some stacks ACK a SYN before answering it; that alone does not make a partial flow.
    } else if (ack && p.observed == Observed::kEstablished) {
      s.observed = Observed::kEstablished;  // we missed its SYN but saw the peer's SYN-ACK
    } else {
      s.observed = Observed::kPartial;
    }
  }
}

std::string_view outcomeCode(const Connection& c) noexcept {
  const EndpointView& o = c.ep[0];
  const EndpointView& r = c.ep[1];
  const Observed os = o.observed;
  const Observed rs = r.observed;
  const bool o_inactive = inactive(os);
  const bool r_inactive = inactive(rs);

  if (reset(rs)) {
    if (os == Observed::kSynSent || os == Observed::kSynAckSent ||
        (reset(os) && !o.has(kEpDataSent) && !r.has(kEpDataSent))) {
      return "REJ";
    }
    return o_inactive ? "RSTRH" : "RSTR";
  }
  if (reset(os)) {
    if (r_inactive) {
      return o.has(kEpRstOs0Ok) ? "RSTOS0" : "OTH";
    }
    return "RSTO";
  }
  if (os == Observed::kClosed && rs == Observed::kClosed) {
    return "SF";
  }
  if (os == Observed::kClosed) {
    return r_inactive ? "SH" : "S2";
  }
  if (rs == Observed::kClosed) {
    return o_inactive ? "SHR" : "S3";
  }
  if (os == Observed::kSynSent && rs == Observed::kInactive) {
    return "S0";
  }
  if (os == Observed::kEstablished && rs == Observed::kEstablished) {
    return "S1";
  }
  return "OTH";
}

bool likelyServerPort(std::uint16_t port) noexcept {
  // Registered ports below 1024 plus common service ports above it (IANA registry; the ports
  // analysts' tools register analyzers for).
  static constexpr std::array<std::uint16_t, 28> kHigh = {
      1080, 1194, 1433, 1521, 1723, 1883, 2049, 2181, 3128, 3268, 3306, 3389, 5060, 5061,
      5222, 5432, 5672, 5900, 6379, 6443, 6667, 8000, 8080, 8443, 8888, 9092, 9200, 27017};
  return port < 1024 || std::binary_search(kHigh.begin(), kHigh.end(), port);
}

}  // namespace synguard::engine
