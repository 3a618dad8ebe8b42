#include "daemon/cli/service_spec.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>
#include <string>

#include "daemon/replay/replay.h"

namespace synguard::daemon {
namespace {

TEST(ServiceSpec, ParsesNamesPrefixesAndPortRanges) {
  auto s = parseServiceSpec("web=198.51.100.0/24,2001:db8:5::/64:80,443,8000-8100");
  ASSERT_TRUE(s.has_value()) << s.error().message;
  EXPECT_EQ(s->name, "web");
  EXPECT_TRUE(s->addresses.contains(*engine::IpAddress::parse("198.51.100.7")));
  EXPECT_TRUE(s->addresses.contains(*engine::IpAddress::parse("2001:db8:5::10")));
  EXPECT_FALSE(s->addresses.contains(*engine::IpAddress::parse("198.51.101.7")));
  ASSERT_EQ(s->ports.size(), 3U);
  EXPECT_EQ(s->ports[2].first, 8000);
  EXPECT_EQ(s->ports[2].last, 8100);
  auto unnamed = parseServiceSpec("2001:db8::1:22");
  ASSERT_TRUE(unnamed.has_value()) << unnamed.error().message;
  EXPECT_EQ(unnamed->ports[0].first, 22);
  EXPECT_EQ(unnamed->name, "2001:db8::1:22");
}

TEST(ServiceSpec, RejectsMistakesWithTheReason) {
  for (const char* bad : {"198.51.100.0/24", "198.51.100.0/24:", ":80", "198.51.100.0/33:80",
                          "198.51.100.1/24:80", "198.51.100.0/24:0", "198.51.100.0/24:70000",
                          "198.51.100.0/24:90-80", "198.51.100.0/24:http", "x=:80"}) {
    auto s = parseServiceSpec(bad);
    EXPECT_FALSE(s.has_value()) << bad;
    if (!s.has_value()) {
      EXPECT_NE(s.error().message.find(bad), std::string::npos) << s.error().message;
    }
  }
}

TEST(ReplayProtection, ReportsWhenAServiceWouldHaveSwitchedToCookies) {
  const char* src = std::getenv("SYNGUARD_SOURCE_DIR");
  ASSERT_NE(src, nullptr);
  replay::ReplayOptions o;
  o.captures = {std::string(src) + "/tests/data/syn_flood.pcap"};
  o.json = true;
  auto svc = parseServiceSpec("web=198.51.100.0/24:80");
  ASSERT_TRUE(svc.has_value());
  svc->thresholds.syn_rate_on = 500;
  svc->thresholds.syn_rate_off = 100;
  svc->thresholds.half_open_on = 100000;
  svc->thresholds.half_open_off = 1000;
  o.engine.protection.services.push_back(*svc);
  std::ostringstream out;
  std::ostringstream err;
  ASSERT_EQ(replay::runReplay(o, out, err), 0) << err.str();
  const std::string j = out.str();
  // Monitor mode: the flood switches the service, nothing is dropped, the SYNs after the
  // switch are counted as would-cookie.
  EXPECT_NE(j.find("\"from\": \"normal\", \"to\": \"cookie\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"name\": \"web\", \"mode\": \"cookie\""), std::string::npos);
  EXPECT_NE(j.find("\"drop\": {}"), std::string::npos) << "monitor mode drops nothing";
  EXPECT_NE(j.find("\"would_cookie\": 1503"), std::string::npos) << j;
}

}  // namespace
}  // namespace synguard::daemon
