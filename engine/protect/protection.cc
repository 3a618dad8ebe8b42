#include "engine/protect/protection.h"

#include <array>

namespace synguard::engine {

SipKey deriveCookieKey(const SipKey& master, std::uint64_t period) noexcept {
  // Input: "sgck" domain tag, the output index, the period (little-endian).
  std::array<std::uint8_t, 13> in{'s', 'g', 'c', 'k', 0};
  for (int i = 0; i < 8; ++i) {
    in[5 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(period >> (8 * i));
  }
  SipKey k;
  k.k0 = sipHash24(master, in);
  in[4] = 1;
  k.k1 = sipHash24(master, in);
  return k;
}

Result<ServiceMap> ServiceMap::create(const std::vector<ServiceConfig>& services) {
  ServiceMap m;
  for (std::size_t i = 0; i < services.size(); ++i) {
    const ServiceConfig& s = services[i];
    if (s.addresses.empty()) {
      return Unexpected{Error{"service '" + s.name + "': no addresses"}};
    }
    if (s.ports.empty()) {
      return Unexpected{Error{"service '" + s.name + "': no ports"}};
    }
    for (const PortRange& r : s.ports) {
      if (r.first == 0 || r.first > r.last) {
        return Unexpected{Error{"service '" + s.name + "': bad port range " +
                                std::to_string(r.first) + "-" + std::to_string(r.last)}};
      }
    }
    for (std::size_t j = 0; j < i; ++j) {
      const ServiceConfig& o = services[j];
      bool ports_meet = false;
      for (const PortRange& a : s.ports) {
        for (const PortRange& b : o.ports) {
          ports_meet = ports_meet || (a.first <= b.last && b.first <= a.last);
        }
      }
      if (ports_meet && s.addresses.overlaps(o.addresses)) {
        return Unexpected{Error{"services '" + o.name + "' and '" + s.name + "' overlap"}};
      }
    }
    m.entries_.push_back(Entry{s.addresses, s.ports});
  }
  return m;
}

}  // namespace synguard::engine
