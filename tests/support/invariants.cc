#include "tests/support/invariants.h"

#include <array>
#include <map>
#include <vector>

namespace synguard::testing {

using namespace engine;  // NOLINT(google-build-using-namespace): a test helper over engine types

std::string engineInvariantProblems(const Engine& e) {
  std::uint64_t global = 0;
  std::map<std::uint32_t, std::uint32_t> svc;
  std::map<std::uint32_t, std::uint32_t> src;
  std::vector<std::uint32_t> per_service(e.serviceCount(), 0);
  std::array<std::uint64_t, kTcpStateCount> by_state{};
  std::size_t proxied = 0;
  std::uint64_t unassured = 0;
  std::map<std::uint32_t, std::uint32_t> proxied_by_source;
  std::string problem;
  const auto& ho = e.halfOpen();
  e.table().forEach([&](std::uint32_t idx, const Connection& c) {
    ++by_state[index(c.state)];
    proxied += (c.flags & kConnProxied) != 0 ? 1 : 0;
    if (const ProxyEntry* p = e.proxyOf(c); p != nullptr && p->source != kNoIndex) {
      ++proxied_by_source[p->source];
    }
    unassured += c.assured() ? 0 : 1;
    // Unassured entries that are not half-open share one timer list; the rest are on their
    // state's (proxied ones are assured from their creation).
    const std::uint8_t want = c.assured() || isHalfOpen(c.state) ? ConnectionTable::listOf(c.state)
                                                                 : ConnectionTable::kUnassuredList;
    if (c.list != want) {
      problem += "slot " + std::to_string(idx) + " on list " + std::to_string(c.list) + ", want " +
                 std::to_string(want) + "; ";
    }
    if ((c.flags & kConnProxied) != 0 && !c.assured()) {
      problem += "slot " + std::to_string(idx) + " proxied but unassured; ";
    }
    const bool should = isHalfOpen(c.state) && (c.flags & kConnSynSeen) != 0;
    const bool counted = (c.flags & kConnHalfOpenCounted) != 0;
    if (should != counted && (c.flags & kConnProxied) == 0) {
      problem += "slot " + std::to_string(idx) + " in " + std::string(toString(c.state)) +
                 (counted ? " counted but not half-open; " : " half-open but not counted; ");
    }
    if (!counted) {
      return;
    }
    if ((c.flags & kConnProxied) != 0) {
      // Connection keeps the source reference and the proxy entry in one word.
      problem += "slot " + std::to_string(idx) + " both half-open counted and proxied; ";
    }
    ++global;
    ++svc[c.service_idx];
    ++src[c.halfOpenSource()];
    for (std::size_t s = 0; s < e.serviceCount(); ++s) {
      const ServiceConfig& sc = e.serviceConfig(s);
      bool port = false;
      for (const PortRange& r : sc.ports) {
        port = port || (c.key.resp_port >= r.first && c.key.resp_port <= r.last);
      }
      if (port && sc.addresses.contains(c.key.resp_addr)) {
        ++per_service[s];
        break;
      }
    }
    const CounterEntry& se = ho.services().at(c.service_idx);
    if (c.service_idx != CounterTable::kOverflow &&
        (se.addr != c.key.resp_addr || se.port != c.key.resp_port)) {
      problem += "service entry of slot " + std::to_string(idx) + " has another key; ";
    }
    const CounterEntry& pe = ho.sources().at(c.halfOpenSource());
    if (c.halfOpenSource() != CounterTable::kOverflow &&
        pe.addr != ho.sourcePrefix(c.key.orig_addr)) {
      problem += "source entry of slot " + std::to_string(idx) + " has another prefix; ";
    }
  });
  if (global != ho.global()) {
    problem += "global " + std::to_string(ho.global()) + " != recount " + std::to_string(global);
  }
  ho.services().forEach([&](std::uint32_t idx, const CounterEntry& en) {
    if (en.half_open != svc[idx]) {
      problem += "service " + en.addr.toString() + ":" + std::to_string(en.port) + " says " +
                 std::to_string(en.half_open) + ", recount " + std::to_string(svc[idx]) + "; ";
    }
  });
  ho.sources().forEach([&](std::uint32_t idx, const CounterEntry& en) {
    if (en.proxied != proxied_by_source[idx]) {
      problem += "source " + en.addr.toString() + " holds " + std::to_string(en.proxied) +
                 " proxied, recount " + std::to_string(proxied_by_source[idx]) + "; ";
    }
    if (en.half_open != src[idx]) {
      problem += "source " + en.addr.toString() + " says " + std::to_string(en.half_open) +
                 ", recount " + std::to_string(src[idx]) + "; ";
    }
  });
  for (std::size_t s = 0; s < e.serviceCount(); ++s) {
    if (e.service(s).half_open != per_service[s]) {
      problem += "configured service " + e.serviceConfig(s).name + " says " +
                 std::to_string(e.service(s).half_open) + ", recount " +
                 std::to_string(per_service[s]) + "; ";
    }
  }
  for (const TcpState s : kTcpStates) {
    const std::uint64_t gauge = e.stats().connections_by_state[index(s)];
    if (by_state[index(s)] != gauge) {
      problem += std::string("by_state ") + std::string(toString(s)) + " gauge " +
                 std::to_string(gauge) + " != " + std::to_string(by_state[index(s)]) + "; ";
    }
  }
  if (unassured != e.stats().unassured) {
    problem += "unassured gauge " + std::to_string(e.stats().unassured) + " != recount " +
               std::to_string(unassured) + "; ";
  }
  std::uint64_t evicted = 0;
  for (const std::uint64_t n : e.stats().evictions) {
    evicted += n;
  }
  if (evicted != e.stats().connections_ended[static_cast<std::size_t>(EndCause::kEvicted)]) {
    problem += "evictions by kind " + std::to_string(evicted) + " != evicted; ";
  }
  if (proxied != e.proxies().size()) {
    problem += "proxied connections " + std::to_string(proxied) + " != proxy table " +
               std::to_string(e.proxies().size()) + "; ";
  }
  return problem;
}

}  // namespace synguard::testing
