#include "engine/protect/prefix_set.h"

#include <gtest/gtest.h>

namespace synguard::engine {
namespace {

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

TEST(PrefixSet, MatchesIpv4AndIpv6PrefixesOfAnyLength) {
  PrefixSet s;
  ASSERT_TRUE(s.add("192.0.2.0/24").has_value());
  ASSERT_TRUE(s.add("198.51.100.7").has_value());
  ASSERT_TRUE(s.add("2001:db8:1::/48").has_value());
  ASSERT_TRUE(s.add("10.0.0.0/8").has_value());
  EXPECT_TRUE(s.contains(ip("192.0.2.200")));
  EXPECT_FALSE(s.contains(ip("192.0.3.1")));
  EXPECT_TRUE(s.contains(ip("198.51.100.7")));
  EXPECT_FALSE(s.contains(ip("198.51.100.8")));
  EXPECT_TRUE(s.contains(ip("10.255.0.1")));
  EXPECT_TRUE(s.contains(ip("2001:db8:1:ffff::1")));
  EXPECT_FALSE(s.contains(ip("2001:db8:2::1")));
  // An IPv4 prefix never matches an IPv6 address, even ::/0 would not match IPv4.
  PrefixSet all6;
  ASSERT_TRUE(all6.add("::/0").has_value());
  EXPECT_TRUE(all6.contains(ip("2001:db8::1")));
  EXPECT_FALSE(all6.contains(ip("192.0.2.1")));
  PrefixSet all4;
  ASSERT_TRUE(all4.add("0.0.0.0/0").has_value());
  EXPECT_TRUE(all4.contains(ip("203.0.113.9")));
  EXPECT_FALSE(all4.contains(ip("2001:db8::1")));
}

TEST(PrefixSet, BadEntriesAreClearErrors) {
  PrefixSet s;
  for (const char* bad : {"192.0.2.1/24", "192.0.2.0/33", "300.1.1.1", "2001:db8::/129",
                          "2001:db8::1/32", "192.0.2.0/", "192.0.2.0/x", "hello"}) {
    const auto r = s.add(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_NE(r.error().message.find(bad), std::string::npos) << r.error().message;
  }
  EXPECT_NE(s.add("192.0.2.1/24").error().message.find("192.0.2.0/24"), std::string::npos);
  EXPECT_TRUE(s.empty());
}

}  // namespace
}  // namespace synguard::engine
