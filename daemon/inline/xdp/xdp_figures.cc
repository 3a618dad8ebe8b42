#include "daemon/inline/xdp/xdp_figures.h"

namespace synguard::daemon::xdp {

const char* toString(AttachMode m) noexcept {
  switch (m) {
    case AttachMode::kNone:
      return "none";
    case AttachMode::kNative:
      return "native";
    case AttachMode::kGeneric:
      return "generic";
  }
  return "none";
}

CounterLabels counterLabels(sg_xdp_counter c) noexcept {
  switch (c) {
    case SG_XDP_TX_COOKIE:
      return {"tx", "cookie"};
    case SG_XDP_DROP_DENIED:
      return {"drop", "denied"};
    case SG_XDP_PASS_NOT_IP:
      return {"pass", "not_ip"};
    case SG_XDP_PASS_NOT_TCP:
      return {"pass", "not_tcp"};
    case SG_XDP_PASS_IP_UNUSUAL:
      return {"pass", "ip_unusual"};
    case SG_XDP_PASS_MALFORMED:
      return {"pass", "malformed"};
    case SG_XDP_PASS_NOT_SYN:
      return {"pass", "not_syn"};
    case SG_XDP_PASS_NO_SERVICE:
      return {"pass", "no_service"};
    case SG_XDP_PASS_NORMAL:
      return {"pass", "normal"};
    case SG_XDP_PASS_OFF:
      return {"pass", "off"};
    case SG_XDP_PASS_MONITOR:
      return {"pass", "monitor"};
    case SG_XDP_PASS_LIMITS:
      return {"pass", "limits"};
    case SG_XDP_PASS_ALLOWED:
      return {"pass", "allowed"};
    case SG_XDP_PASS_SOURCE:
      return {"pass", "source"};
    case SG_XDP_PASS_OPTIONS:
      return {"pass", "options"};
    case SG_XDP_PASS_DATA:
      return {"pass", "data"};
    case SG_XDP_PASS_CHECKSUM:
      return {"pass", "checksum"};
    case SG_XDP_PASS_NO_ROOM:
      return {"pass", "no_room"};
    case SG_XDP_PASS_NOT_READY:
      return {"pass", "not_ready"};
    case SG_XDP_PASS_OVERFLOW:
      return {"pass", "overflow"};
    case SG_XDP_NCOUNTERS:
      break;
  }
  return {"pass", ""};
}

std::uint64_t InterfaceFigures::passed() const noexcept {
  std::uint64_t n = 0;
  for (std::size_t c = 0; c < counters.size(); ++c) {
    if (counterLabels(static_cast<sg_xdp_counter>(c)).action == "pass") {
      n += counters[c];
    }
  }
  return n;
}

void CounterTotals::add(std::size_t slot, const std::string& name, const CounterArray& reading) {
  CounterArray& last = last_[slot];
  CounterArray& total = totals_[name];
  for (std::size_t c = 0; c < reading.size(); ++c) {
    // A reading below the last one: the program was loaded again; it counts from 0.
    total[c] += reading[c] >= last[c] ? reading[c] - last[c] : reading[c];
  }
  last = reading;
}

void CounterTotals::rebase(std::size_t slot, const CounterArray& reading) { last_[slot] = reading; }

CounterArray CounterTotals::totals(const std::string& name) const {
  const auto it = totals_.find(name);
  return it == totals_.end() ? CounterArray{} : it->second;
}

}  // namespace synguard::daemon::xdp
