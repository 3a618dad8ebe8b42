#pragma once

#include <string>
#include <vector>

#include "daemon/inline/log.h"
#include "daemon/inline/nft_rules.h"
#include "engine/protect/protection.h"
#include "engine/result.h"

namespace synguard::daemon {

/// The route the kernel has for one address (RTM_GETROUTE with RTM_F_FIB_MATCH: the FIB
/// entry itself, every nexthop of a multipath route).
struct RouteMatch {
  std::string type;                     ///< "unicast", "local", "unreachable", "blackhole", ...
  unsigned prefix_length = 0;           ///< of the matching route (0: the default route)
  std::vector<std::string> interfaces;  ///< its nexthops' interfaces (in order, once each)
};

/// Asks the kernel (netlink, this network namespace) which route it has for `address`
/// (an IPv4 or IPv6 literal). An error if the address does not parse or nothing routes it.
Result<RouteMatch> lookupRoute(const std::string& address);

/// One line of the derived topology, with the level to log it at.
struct SideLine {
  LogLevel level = LogLevel::kInfo;
  std::string text;
};

/// For every service: the side its own segments may come from, as the rules check it (the
/// kernel's routes for each prefix, server_interfaces, or off), with warnings where the check
/// cannot tell the sides apart (no route, the default route's interface, a missing interface).
std::vector<SideLine> describeSides(const std::vector<engine::ServiceConfig>& services,
                                    const RuleOptions& opts);

}  // namespace synguard::daemon
