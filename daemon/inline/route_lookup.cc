// The anti-spoofing check's topology, read from the kernel: which interfaces the routes for
// the services' prefixes go through (RTM_GETROUTE over libmnl). Logged at start and on reload
// so an operator sees what the `fib saddr . iif` rules follow (they follow route changes live;
// this is what they mean at the time of the log line).
#include "daemon/inline/route_lookup.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>

namespace synguard::daemon {

namespace {

std::string typeName(unsigned char t) {
  switch (t) {
    case RTN_UNICAST:
      return "unicast";
    case RTN_LOCAL:
      return "local";
    case RTN_BROADCAST:
      return "broadcast";
    case RTN_ANYCAST:
      return "anycast";
    case RTN_MULTICAST:
      return "multicast";
    case RTN_BLACKHOLE:
      return "blackhole";
    case RTN_UNREACHABLE:
      return "unreachable";
    case RTN_PROHIBIT:
      return "prohibit";
    default:
      return "type " + std::to_string(t);
  }
}

void addInterface(RouteMatch& m, unsigned index) {
  std::array<char, IF_NAMESIZE> name{};
  const std::string n =
      ::if_indextoname(index, name.data()) != nullptr ? name.data() : "#" + std::to_string(index);
  if (std::find(m.interfaces.begin(), m.interfaces.end(), n) == m.interfaces.end()) {
    m.interfaces.push_back(n);
  }
}

int onAttr(const nlattr* a, void* data) {
  auto* m = static_cast<RouteMatch*>(data);
  switch (mnl_attr_get_type(a)) {
    case RTA_OIF:
      if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0) {
        addInterface(*m, mnl_attr_get_u32(a));
      }
      break;
    case RTA_MULTIPATH: {
      const auto* nh = static_cast<const rtnexthop*>(mnl_attr_get_payload(a));
      int left = static_cast<int>(mnl_attr_get_payload_len(a));
      while (left >= static_cast<int>(sizeof(rtnexthop)) && RTNH_OK(nh, left)) {
        addInterface(*m, static_cast<unsigned>(nh->rtnh_ifindex));
        left -= static_cast<int>(RTNH_ALIGN(nh->rtnh_len));
        nh = RTNH_NEXT(nh);
      }
      break;
    }
    default:
      break;
  }
  return MNL_CB_OK;
}

int onRoute(const nlmsghdr* h, void* data) {
  auto* m = static_cast<RouteMatch*>(data);
  if (h->nlmsg_type != RTM_NEWROUTE) {
    return MNL_CB_OK;
  }
  const auto* rt = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(h));
  m->type = typeName(rt->rtm_type);
  m->prefix_length = rt->rtm_dst_len;
  mnl_attr_parse(h, sizeof(rtmsg), onAttr, m);
  return MNL_CB_OK;
}

struct DefaultRoutes {
  std::vector<std::string> interfaces;
};

int onDumpedRoute(const nlmsghdr* h, void* data) {
  auto* d = static_cast<DefaultRoutes*>(data);
  if (h->nlmsg_type != RTM_NEWROUTE) {
    return MNL_CB_OK;
  }
  const auto* rt = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(h));
  if (rt->rtm_dst_len != 0 || rt->rtm_type != RTN_UNICAST || rt->rtm_table != RT_TABLE_MAIN) {
    return MNL_CB_OK;
  }
  RouteMatch m;
  mnl_attr_parse(h, sizeof(rtmsg), onAttr, &m);
  for (const auto& i : m.interfaces) {
    if (std::find(d->interfaces.begin(), d->interfaces.end(), i) == d->interfaces.end()) {
      d->interfaces.push_back(i);
    }
  }
  return MNL_CB_OK;
}

/// The interfaces of the main table's default routes (none if there is none).
std::vector<std::string> defaultRouteInterfaces(bool v6) {
  std::array<char, 32768> buf{};
  nlmsghdr* h = mnl_nlmsg_put_header(buf.data());
  h->nlmsg_type = RTM_GETROUTE;
  h->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  h->nlmsg_seq = static_cast<unsigned>(::time(nullptr));
  auto* rt = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(h, sizeof(rtmsg)));
  rt->rtm_family = v6 ? AF_INET6 : AF_INET;
  DefaultRoutes d;
  mnl_socket* nl = mnl_socket_open(NETLINK_ROUTE);
  if (nl == nullptr) {
    return {};
  }
  if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) >= 0 &&
      mnl_socket_sendto(nl, h, h->nlmsg_len) >= 0) {
    const unsigned portid = mnl_socket_get_portid(nl);
    const unsigned seq = h->nlmsg_seq;
    for (;;) {
      const ssize_t n = mnl_socket_recvfrom(nl, buf.data(), buf.size());
      if (n <= 0 || mnl_cb_run(buf.data(), static_cast<size_t>(n), seq, portid, onDumpedRoute,
                               &d) <= MNL_CB_STOP) {
        break;
      }
    }
  }
  mnl_socket_close(nl);
  return d.interfaces;
}

/// The first and the last address of a CIDR, as literals.
bool ends(const std::string& cidr, std::string& first, std::string& last) {
  const auto slash = cidr.find('/');
  const std::string addr = cidr.substr(0, slash);
  const bool v6 = addr.find(':') != std::string::npos;
  const unsigned bits = v6 ? 128 : 32;
  unsigned len = bits;
  if (slash != std::string::npos) {
    len = static_cast<unsigned>(std::strtoul(cidr.c_str() + slash + 1, nullptr, 10));
  }
  std::array<unsigned char, 16> a{};
  if (::inet_pton(v6 ? AF_INET6 : AF_INET, addr.c_str(), a.data()) != 1 || len > bits) {
    return false;
  }
  std::array<unsigned char, 16> lo = a;
  std::array<unsigned char, 16> hi = a;
  for (unsigned bit = len; bit < bits; ++bit) {
    const auto mask = static_cast<unsigned char>(0x80U >> (bit % 8));
    lo[bit / 8] = static_cast<unsigned char>(lo[bit / 8] & ~mask);
    hi[bit / 8] = static_cast<unsigned char>(hi[bit / 8] | mask);
  }
  std::array<char, INET6_ADDRSTRLEN> b{};
  first = ::inet_ntop(v6 ? AF_INET6 : AF_INET, lo.data(), b.data(), b.size());
  last = ::inet_ntop(v6 ? AF_INET6 : AF_INET, hi.data(), b.data(), b.size());
  return true;
}

std::string list(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) {
    s += s.empty() ? "" : ", ";
    s += x;
  }
  return s;
}

}  // namespace

Result<RouteMatch> lookupRoute(const std::string& address) {
  const bool v6 = address.find(':') != std::string::npos;
  std::array<unsigned char, 16> dst{};
  if (::inet_pton(v6 ? AF_INET6 : AF_INET, address.c_str(), dst.data()) != 1) {
    return Unexpected{Error{"'" + address + "' is not an address"}};
  }
  std::array<char, 8192> buf{};
  nlmsghdr* h = mnl_nlmsg_put_header(buf.data());
  h->nlmsg_type = RTM_GETROUTE;
  h->nlmsg_flags = NLM_F_REQUEST;
  h->nlmsg_seq = static_cast<unsigned>(::time(nullptr));
  auto* rt = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(h, sizeof(rtmsg)));
  rt->rtm_family = v6 ? AF_INET6 : AF_INET;
  rt->rtm_dst_len = v6 ? 128 : 32;
  rt->rtm_flags = RTM_F_FIB_MATCH;  // the matching FIB entry, all its nexthops (Linux 4.13)
  mnl_attr_put(h, RTA_DST, v6 ? 16 : 4, dst.data());
  mnl_socket* nl = mnl_socket_open(NETLINK_ROUTE);
  if (nl == nullptr) {
    return Unexpected{Error{std::string("netlink: ") + std::strerror(errno)}};
  }
  RouteMatch m;
  std::string err;
  if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
      mnl_socket_sendto(nl, h, h->nlmsg_len) < 0) {
    err = std::strerror(errno);
  } else {
    const unsigned portid = mnl_socket_get_portid(nl);
    const ssize_t n = mnl_socket_recvfrom(nl, buf.data(), buf.size());
    if (n < 0 ||
        mnl_cb_run(buf.data(), static_cast<size_t>(n), h->nlmsg_seq, portid, onRoute, &m) < 0) {
      err = errno == ENETUNREACH || errno == EHOSTUNREACH ? "no route" : std::strerror(errno);
    }
  }
  mnl_socket_close(nl);
  if (!err.empty()) {
    return Unexpected{Error{err}};
  }
  if (m.type.empty()) {
    return Unexpected{Error{"no route"}};
  }
  return m;
}

namespace {

/// A service whose side is named (server_interfaces): accepted only there and on lo.
void describeServerInterfaces(const std::string& who, const config::ServiceSide& side,
                              std::vector<SideLine>& out) {
  std::string missing;
  for (const auto& i : side.server_interfaces) {
    if (::if_nametoindex(i.c_str()) == 0) {
      missing += missing.empty() ? "" : ", ";
      missing += i;
    }
  }
  out.push_back({LogLevel::kInfo, who + "its segments are accepted only from " +
                                      list(side.server_interfaces) +
                                      " (server_interfaces) and lo"});
  if (!missing.empty()) {
    out.push_back(
        {LogLevel::kWarning, who + "no interface " + missing +
                                 " here (yet): its segments arriving there would pass once it "
                                 "exists, and are dropped everywhere else"});
  }
}

/// The kernel's routes to the two ends of a prefix, merged.
struct RangeRoute {
  std::vector<std::string> ifs;
  std::vector<std::string> types;
  bool by_default = false;  ///< a unicast route of prefix length 0
  std::string error;        ///< of the last lookup that failed
};

RangeRoute routeOfRange(const std::string& first, const std::string& last) {
  RangeRoute rr;
  for (const std::string& a : {first, last}) {
    auto r = lookupRoute(a);
    if (!r) {
      rr.error = r.error().message;
      continue;
    }
    if (std::find(rr.types.begin(), rr.types.end(), r->type) == rr.types.end()) {
      rr.types.push_back(r->type);
    }
    rr.by_default = rr.by_default || (r->prefix_length == 0 && r->type == "unicast");
    for (const auto& i : r->interfaces) {
      if (std::find(rr.ifs.begin(), rr.ifs.end(), i) == rr.ifs.end()) {
        rr.ifs.push_back(i);
      }
    }
    if (first == last) {
      break;
    }
  }
  return rr;
}

/// One prefix of a service, by the route the kernel has for it. `dflt`: the default routes'
/// interfaces of its family.
void describePrefix(const std::string& p, const RangeRoute& rr,
                    const std::vector<std::string>& dflt, std::vector<SideLine>& out) {
  const auto& ifs = rr.ifs;
  const auto& types = rr.types;
  if (types.empty() || (types.size() == 1 && types[0] != "unicast" && types[0] != "local")) {
    out.push_back({LogLevel::kWarning,
                   p + (types.empty() ? "no route" : "no usable route (" + types[0] + ")") +
                       (rr.error.empty() || rr.error == "no route" ? "" : " (" + rr.error + ")") +
                       ": its segments are dropped from every side until there is one"});
    return;
  }
  if (std::find(types.begin(), types.end(), "local") != types.end()) {
    out.push_back(
        {LogLevel::kInfo,
         p + "on this host (local): its segments are accepted only on lo" +
             (ifs.empty() || (ifs.size() == 1 && ifs[0] == "lo") ? std::string()
                                                                 : ", and from " + list(ifs))});
    return;
  }
  const bool shares = std::any_of(ifs.begin(), ifs.end(), [&](const std::string& i) {
    return std::find(dflt.begin(), dflt.end(), i) != dflt.end();
  });
  if (rr.by_default || shares) {
    out.push_back(
        {LogLevel::kWarning,
         p + "routed through " + list(ifs) +
             (rr.by_default ? " by the default route" : ", the default route's interface") +
             ": clients arrive there too, so the check cannot tell a forged "
             "segment from a real one (set server_interfaces if the service "
             "is elsewhere)"});
  } else {
    out.push_back(
        {LogLevel::kInfo, p + "routed through " + list(ifs) +
                              ": its segments arriving on any other interface are dropped"});
  }
}

}  // namespace

std::vector<SideLine> describeSides(const std::vector<engine::ServiceConfig>& services,
                                    const RuleOptions& opts) {
  std::vector<SideLine> out;
  if (!opts.anti_spoofing) {
    out.push_back({LogLevel::kWarning,
                   "anti-spoofing is off (rules.anti_spoofing: off): segments forged with a "
                   "service's source address reach the engine from any side"});
    return out;
  }
  // The default routes' interfaces: a service behind one of them shares its side with the
  // clients, and the check cannot tell the two apart.
  const std::vector<std::string> default4 = defaultRouteInterfaces(false);
  const std::vector<std::string> default6 = defaultRouteInterfaces(true);
  for (const auto& s : services) {
    const config::ServiceSide side = sideOf(s, opts);
    const std::string who = "anti-spoofing: service " + s.name + ": ";
    if (!side.check) {
      out.push_back({LogLevel::kWarning,
                     who + "off (anti_spoofing: off): its source addresses are not checked"});
      continue;
    }
    if (!side.server_interfaces.empty()) {
      describeServerInterfaces(who, side, out);
      continue;
    }
    for (const bool v4 : {true, false}) {
      for (const std::string& cidr : s.addresses.cidrs(v4)) {
        std::string first;
        std::string last;
        if (ends(cidr, first, last)) {
          describePrefix(who + cidr + ": ", routeOfRange(first, last), v4 ? default4 : default6,
                         out);
        }
      }
    }
  }
  return out;
}

}  // namespace synguard::daemon
