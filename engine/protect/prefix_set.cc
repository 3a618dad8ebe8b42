#include "engine/protect/prefix_set.h"

#include <charconv>
#include <string>

namespace synguard::engine {

Result<void> PrefixSet::add(std::string_view cidr) {
  const auto slash = cidr.find('/');
  const std::string_view addr_text = cidr.substr(0, slash);
  const auto addr = IpAddress::parse(addr_text);
  if (!addr) {
    return Unexpected{Error{"'" + std::string(cidr) + "': not an IPv4 or IPv6 address"}};
  }
  const bool v4 = addr->isV4();
  const unsigned max = v4 ? 32 : 128;
  unsigned len = max;
  if (slash != std::string_view::npos) {
    const std::string_view len_text = cidr.substr(slash + 1);
    const auto [end, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
    if (ec != std::errc{} || end != len_text.data() + len_text.size() || len > max) {
      return Unexpected{
          Error{"'" + std::string(cidr) + "': prefix length must be 0 to " + std::to_string(max)}};
    }
  }
  const IpAddress net = addr->masked(len);
  if (!(net == *addr)) {
    return Unexpected{Error{"'" + std::string(cidr) + "': host bits set (did you mean " +
                            net.toString() + "/" + std::to_string(len) + "?)"}};
  }
  auto it = std::find_if(groups_.begin(), groups_.end(),
                         [&](const Group& g) { return g.v4 == v4 && g.len == len; });
  if (it == groups_.end()) {
    groups_.push_back(Group{v4, len, {}});
    it = groups_.end() - 1;
  }
  const auto pos = std::lower_bound(it->prefixes.begin(), it->prefixes.end(), net, IpAddress::less);
  if (pos == it->prefixes.end() || !(*pos == net)) {
    it->prefixes.insert(pos, net);
  }
  return {};
}

std::vector<std::string> PrefixSet::cidrs(bool v4) const {
  std::vector<std::string> out;
  for (const Group& g : groups_) {
    if (g.v4 != v4) {
      continue;
    }
    for (const IpAddress& a : g.prefixes) {
      out.push_back(a.toString() + "/" + std::to_string(g.len));
    }
  }
  return out;
}

bool PrefixSet::overlaps(const PrefixSet& other) const noexcept {
  for (const Group& g : groups_) {
    for (const Group& h : other.groups_) {
      if (g.v4 != h.v4) {
        continue;
      }
      const unsigned len = std::min(g.len, h.len);
      for (const IpAddress& a : g.prefixes) {
        for (const IpAddress& b : h.prefixes) {
          if (a.masked(len) == b.masked(len)) {
            return true;
          }
        }
      }
    }
  }
  return false;
}

}  // namespace synguard::engine
