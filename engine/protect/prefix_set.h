#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/packet/ip_address.h"
#include "engine/result.h"

namespace synguard::engine {

/// A set of IPv4 and IPv6 prefixes (the allow and deny lists). Built once at
/// configuration time; membership tests allocate nothing: one binary search per distinct prefix
/// length present (a handful in practice).
class PrefixSet {
 public:
  /// Adds "a.b.c.d/len" or "x::/len" (a bare address is a host prefix). Host bits must be zero.
  Result<void> add(std::string_view cidr);
  bool contains(const IpAddress& a) const noexcept {
    for (const Group& g : groups_) {
      if (a.isV4() != g.v4) {
        continue;
      }
      if (std::binary_search(g.prefixes.begin(), g.prefixes.end(), a.masked(g.len),
                             IpAddress::less)) {
        return true;
      }
    }
    return false;
  }
  bool empty() const noexcept { return groups_.empty(); }
  /// Every prefix as "address/length" text, IPv4 first (rules, reports; not the packet path).
  std::vector<std::string> cidrs(bool v4) const;
  /// Whether some address is in both sets (configuration checks: services must not overlap).
  bool overlaps(const PrefixSet& other) const noexcept;

 private:
  struct Group {
    bool v4;
    unsigned len;
    std::vector<IpAddress> prefixes;  // sorted
  };
  std::vector<Group> groups_;
};

}  // namespace synguard::engine
