#include "engine/packet/ip_address.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace synguard::engine {
namespace {

std::string roundTrip(std::string_view text) {
  const std::optional<IpAddress> a = IpAddress::parse(text);
  return a ? a->toString() : "invalid";
}

TEST(IpAddressParse, DottedQuads) {
  EXPECT_EQ(roundTrip("192.0.2.1"), "192.0.2.1");
  EXPECT_EQ(roundTrip("0.0.0.0"), "0.0.0.0");
  EXPECT_EQ(roundTrip("255.255.255.255"), "255.255.255.255");
  EXPECT_EQ(roundTrip("256.0.0.1"), "invalid");
  EXPECT_EQ(roundTrip("1.2.3"), "invalid");
  EXPECT_EQ(roundTrip("1.2.3.4x"), "invalid");
  EXPECT_EQ(roundTrip("1.2.3.1234"), "invalid");
  EXPECT_EQ(roundTrip(""), "invalid");
  EXPECT_TRUE(IpAddress::parse("198.51.100.7")->isV4());
}

TEST(IpAddressParse, Ipv6GroupsAndTheirCompression) {
  EXPECT_EQ(roundTrip("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
  EXPECT_EQ(roundTrip("2001:DB8::1"), "2001:db8::1");
  EXPECT_EQ(roundTrip("::"), "::");
  EXPECT_EQ(roundTrip("::1"), "::1");
  EXPECT_EQ(roundTrip("fe80::"), "fe80::");
  EXPECT_EQ(roundTrip("1:2:3:4:5:6:7:8"), "1:2:3:4:5:6:7:8");
  EXPECT_EQ(roundTrip("1:2:3:4:5:6:7::"), "1:2:3:4:5:6:7:0");
  EXPECT_EQ(roundTrip("::2:3:4:5:6:7:8"), "0:2:3:4:5:6:7:8");
  EXPECT_FALSE(IpAddress::parse("2001:db8::1")->isV4());
}

TEST(IpAddressParse, Ipv6WithATrailingDottedQuad) {
  EXPECT_EQ(roundTrip("::ffff:192.0.2.1"), "192.0.2.1");  // v4-mapped is how v4 is held
  EXPECT_EQ(roundTrip("64:ff9b::192.0.2.1"), "64:ff9b::c000:201");
  EXPECT_EQ(roundTrip("1:2:3:4:5:6:192.0.2.1"), "1:2:3:4:5:6:c000:201");
  EXPECT_EQ(roundTrip("1:2:3:4:5:6:7:192.0.2.1"), "invalid");  // nine groups
  EXPECT_EQ(roundTrip("::192.0.2.1:1"), "invalid");            // not last
  EXPECT_EQ(roundTrip("::192.0.2.256"), "invalid");
}

TEST(IpAddressParse, MalformedIpv6) {
  for (const char* bad : {":", ":::", "1::2::3", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9",
                          "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8",
                          "12345::", "g::", "1:", "1:2:", ":1", "1:::2", "1:2:3:4:5:6:7:8:"}) {
    EXPECT_EQ(roundTrip(bad), "invalid") << bad;
  }
}

}  // namespace
}  // namespace synguard::engine
