// ICMP errors about TCP connections (RFC 5927 describes the attacks; RFC 1191 and RFC 8201
// path-MTU discovery is what must keep working). The engine never creates, changes or
// refreshes a connection for an ICMP error: a spoofed one can at most be passed or dropped.

#include "engine/protect/icmp.h"
#include "engine/protect/protector.h"

namespace synguard::engine {

namespace {

/// Counts what became of an ICMP error and returns its verdict.
Verdict counted(EngineStats& stats, IcmpOutcome o, Verdict v) noexcept {
  ++stats.icmp[static_cast<std::size_t>(o)];
  return v;
}

}  // namespace

std::optional<Verdict> Protector::admitIcmp(std::span<const std::byte> packet,
                                            std::byte* writable) noexcept {
  const Verdict untouched = Verdict::accept(VerdictReason::kNotTcp);
  IcmpQuote q;
  switch (parseIcmpError(packet, q)) {
    case IcmpParse::kTcpQuote:
      break;
    case IcmpParse::kOther:
      return std::nullopt;
    case IcmpParse::kTruncated:
      // The receiver's stack discards these too (Linux icmp_unreach needs the quoted header
      // and 8 bytes): dropping them costs no one anything.
      return counted(*stats_, IcmpOutcome::kTruncated, Verdict::drop(VerdictReason::kMalformed));
    case IcmpParse::kBadQuote:
      return counted(*stats_, IcmpOutcome::kBadQuote, Verdict::drop(VerdictReason::kMalformed));
  }
  if (q.to != q.src) {
    // An error goes back to the quoted segment's sender (RFC 792, RFC 4443 §2.4). Anything else
    // (a NAT in front of the server, a spoofer) is not ours to rewrite.
    return counted(*stats_, IcmpOutcome::kMisdirected, untouched);
  }
  const FlowKey tuple{q.src, q.dst, q.src_port, q.dst_port};
  const ConnectionTable::Found found = tracker_->table().find(tuple);
  if (found.idx == kNoIndex) {
    return icmpWithoutConnection(q);
  }
  const Connection& c = tracker_->at(found.idx);
  if ((c.flags & kConnProxied) == 0) {
    return counted(*stats_, IcmpOutcome::kNotProxied, untouched);
  }
  // The connection's originator is the client: a quote in the reply direction is a server
  // segment, and the error goes to the server.
  return icmpOfProxied(q, proxies_->at(c.proxyEntry()), found.reply, packet, writable);
}

Verdict Protector::icmpWithoutConnection(const IcmpQuote& q) noexcept {
  // Toward a service (the quote is its segment): in cookie mode every connection the server
  // holds through us has an entry (proxied, or tracked before the mode changed), so an error
  // about another tuple concerns nothing of the server's; like a stray RST it is dropped
  // (admitStray) and a flood of them never reaches the server. Otherwise it passes and the
  // server's own checks (socket lookup, RFC 5927 §4.1 sequence check) judge it.
  const std::uint32_t svc =
      runtime_.empty() ? ServiceMap::kNone : services_.find(q.src, q.src_port);
  if (svc != ServiceMap::kNone) {
    if (const auto v = admitStray(svc)) {
      return counted(*stats_, IcmpOutcome::kNoConnection, *v);
    }
  }
  return counted(*stats_, IcmpOutcome::kNoConnection, Verdict::accept(VerdictReason::kNotTcp));
}

Verdict Protector::icmpOfProxied(const IcmpQuote& q, const ProxyEntry& p, bool to_server,
                                 std::span<const std::byte> packet, std::byte* writable) noexcept {
  switch (p.phase) {
    case ProxyPhase::kEstablished:
      break;
    case ProxyPhase::kSynSent:
    case ProxyPhase::kAckDelayed:
    case ProxyPhase::kFree:
      if (to_server) {
        // The server's SYN-ACK (and its retransmissions) end here: no server segment has left
        // the gateway, so no genuine error can quote one. Passing it would let a blind guess
        // of the server's ISN abort its half-open connection (tcp_req_err).
        return counted(*stats_, IcmpOutcome::kHandshake,
                       Verdict::drop(VerdictReason::kProxyHandshake));
      }
      // Our SYN or ACK to the server, in the client's own sequence space: its stack judges it.
      return counted(*stats_, IcmpOutcome::kHandshake, Verdict::accept(VerdictReason::kNotTcp));
  }
  if (writable != nullptr) {
    translateQuote(std::span<std::byte>(writable, packet.size()), q, p.tr, to_server);
  }
  Verdict v = Verdict::accept(VerdictReason::kProxied);
  v.rewritten = writable != nullptr;
  return counted(*stats_, to_server ? IcmpOutcome::kToServer : IcmpOutcome::kToClient, v);
}

}  // namespace synguard::engine
