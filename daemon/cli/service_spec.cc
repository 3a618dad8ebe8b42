#include "daemon/cli/service_spec.h"

#include <charconv>
#include <string>

namespace synguard::daemon {

namespace {

Result<std::uint16_t> parsePort(std::string_view s, std::string_view spec) {
  unsigned v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || v == 0 || v > 65535) {
    return Unexpected{
        Error{"'" + std::string(spec) + "': bad port '" + std::string(s) + "' (1 to 65535)"}};
  }
  return static_cast<std::uint16_t>(v);
}

}  // namespace

Result<engine::ServiceConfig> parseServiceSpec(std::string_view spec) {
  engine::ServiceConfig s;
  std::string_view rest = spec;
  const auto eq = rest.find('=');
  if (eq != std::string_view::npos) {
    s.name = std::string(rest.substr(0, eq));
    rest = rest.substr(eq + 1);
  }
  const auto colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == rest.size()) {
    return Unexpected{Error{"'" + std::string(spec) + "': expected PREFIXES:PORTS"}};
  }
  std::string_view prefixes = rest.substr(0, colon);
  std::string_view ports = rest.substr(colon + 1);
  if (s.name.empty()) {
    s.name = std::string(rest);
  }
  while (!prefixes.empty()) {
    const auto comma = prefixes.find(',');
    const std::string_view p = prefixes.substr(0, comma);
    if (auto r = s.addresses.add(p); !r) {
      return Unexpected{Error{"'" + std::string(spec) + "': " + r.error().message}};
    }
    prefixes = comma == std::string_view::npos ? std::string_view{} : prefixes.substr(comma + 1);
  }
  while (!ports.empty()) {
    const auto comma = ports.find(',');
    const std::string_view p = ports.substr(0, comma);
    const auto dash = p.find('-');
    auto first = parsePort(p.substr(0, dash), spec);
    if (!first) {
      return Unexpected{first.error()};
    }
    std::uint16_t last = *first;
    if (dash != std::string_view::npos) {
      auto l = parsePort(p.substr(dash + 1), spec);
      if (!l) {
        return Unexpected{l.error()};
      }
      if (*l < *first) {
        return Unexpected{
            Error{"'" + std::string(spec) + "': port range " + std::string(p) + " runs backwards"}};
      }
      last = *l;
    }
    s.ports.push_back(engine::PortRange{*first, last});
    ports = comma == std::string_view::npos ? std::string_view{} : ports.substr(comma + 1);
  }
  if (s.addresses.empty()) {
    return Unexpected{Error{"'" + std::string(spec) + "': no address"}};
  }
  return s;
}

}  // namespace synguard::daemon
