#include "daemon/nft_rules.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "daemon/service_spec.h"

namespace synguard::daemon {
namespace {

std::vector<engine::ServiceConfig> services() {
  std::vector<engine::ServiceConfig> v;
  v.push_back(*parseServiceSpec("web=198.51.100.0/24,2001:db8:5::/64:80,443,8000-8100"));
  return v;
}

bool has(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

TEST(NftRules, QueueBothDirectionsBeforeConntrackAndNotrackProxied) {
  RuleOptions o;
  o.queues = 2;
  const std::string r = renderRules(services(), o);
  EXPECT_TRUE(has(r, "table inet synguard {"));
  EXPECT_TRUE(has(r, "type filter hook prerouting priority -300;"));
  EXPECT_TRUE(has(r,
                  "ip daddr { 198.51.100.0/24 } tcp dport { 80, 443, 8000-8100 } "
                  "counter queue num 0-1 bypass"));
  EXPECT_TRUE(has(r,
                  "ip saddr { 198.51.100.0/24 } tcp sport { 80, 443, 8000-8100 } "
                  "counter queue num 0-1 bypass"));
  EXPECT_TRUE(has(r, "ip6 daddr { 2001:db8:5::/64 }"));
  EXPECT_TRUE(has(r, "meta mark 0x5e000001 notrack"));
  EXPECT_TRUE(has(r, "meta mark 0x5e000002 return"));
  EXPECT_TRUE(has(r, "type filter hook output priority -300;"));
  EXPECT_FALSE(has(r, "local replies")) << "gateway mode does not queue output";
  o.mode = RuleMode::kLocal;
  o.queues = 1;
  const std::string l = renderRules(services(), o);
  EXPECT_TRUE(has(l, "counter queue num 0 bypass comment \"web local replies\""));
}

TEST(NftRules, XtFallbackMirrorsTheQueueRules) {
  RuleOptions o;
  o.queues = 2;
  o.first_queue = 4;
  o.nft_queue = false;
  EXPECT_FALSE(has(renderRules(services(), o), "queue num"));
  const std::string v4 = renderXtRules(services(), o, false);
  EXPECT_TRUE(has(v4, "*raw\n:SYNGUARD - [0:0]\n"));
  EXPECT_TRUE(has(v4, "-A SYNGUARD -m mark --mark 0x5e000002 -j RETURN"));
  EXPECT_TRUE(has(v4,
                  "-A SYNGUARD -d 198.51.100.0/24 -p tcp -m multiport --dports "
                  "80,443,8000:8100 -j NFQUEUE --queue-balance 4:5 --queue-bypass"));
  EXPECT_TRUE(has(v4, "-I PREROUTING -j SYNGUARD"));
  EXPECT_FALSE(has(v4, "2001:db8"));
  const std::string v6 = renderXtRules(services(), o, true);
  EXPECT_TRUE(has(v6, "-A SYNGUARD -s 2001:db8:5::/64 -p tcp -m multiport --sports"));
  EXPECT_FALSE(has(v6, "198.51.100"));
}

TEST(NftRules, EstablishedConnectionsBypassTheQueueUntilAFinOrRst) {
  RuleOptions o;
  o.bypass_capacity = 1000;
  o.bypass_timeout_s = 60;
  const std::string r = renderRules(services(), o);
  EXPECT_TRUE(has(r,
                  "set bypass4 {\n\t\ttype ipv4_addr . inet_service . ipv4_addr . inet_service\n"
                  "\t\tsize 1000\n\t\ttimeout 60s\n\t\tflags dynamic,timeout"));
  EXPECT_TRUE(has(r, "set bypass6 {"));
  // Before the queue: the close ends the bypass; plain segments of known tuples are marked.
  EXPECT_TRUE(has(r, "type filter hook prerouting priority -310;"));
  EXPECT_TRUE(has(r,
                  "tcp flags & (fin | rst) != 0 ip saddr . tcp sport . ip daddr . tcp dport "
                  "@bypass4 delete @bypass4 { ip saddr . tcp sport . ip daddr . tcp dport } "
                  "delete @bypass4 { ip daddr . tcp dport . ip saddr . tcp sport }"));
  EXPECT_TRUE(has(r,
                  "meta mark 0 tcp flags & (syn | fin | rst) == 0 ip6 saddr . tcp sport . ip6 "
                  "daddr . tcp dport @bypass6 meta mark set 0x5e000004"));
  // The queue skips them; verdicts marked 0x5e000003 teach the set both directions.
  EXPECT_TRUE(has(r, "meta mark 0x5e000004 return comment \"bypassed\"\n\t\tip daddr"));
  EXPECT_TRUE(has(r, "type filter hook prerouting priority -295;"));
  EXPECT_TRUE(has(r,
                  "meta mark 0x5e000003 meta nfproto ipv4 add @bypass4 { ip saddr . tcp sport . "
                  "ip daddr . tcp dport } add @bypass4 { ip daddr . tcp dport . ip saddr . tcp "
                  "sport }"));
  EXPECT_TRUE(has(r, "meta mark { 0x5e000003, 0x5e000004 } meta mark set 0"));
  EXPECT_FALSE(has(r, "output_bypass")) << "gateway mode has no output queue";
  o.mode = RuleMode::kLocal;
  EXPECT_TRUE(has(renderRules(services(), o), "type filter hook output priority -310;"));
  o.nft_queue = false;
  EXPECT_TRUE(
      has(renderXtRules(services(), o, false), "-A SYNGUARD -m mark --mark 0x5e000004 -j RETURN"));
  EXPECT_TRUE(has(renderXtRules(services(), o, true),
                  "-A SYNGUARD_OUT -m mark --mark 0x5e000004 -j RETURN"));
  o.bypass = false;
  EXPECT_FALSE(has(renderRules(services(), o), "bypass4"));
  EXPECT_FALSE(has(renderXtRules(services(), o, false), "0x5e000004"));
}

TEST(NftRules, ForgedServiceSourcesAreDroppedBeforeEverythingByTheRoutes) {
  const std::string r = renderRules(services(), RuleOptions{});
  // Its own chain, ahead of the bypass marks (-310), the queue (-300) and iptables' raw table
  // (-300, the fallback's queue rules).
  EXPECT_TRUE(has(r,
                  "chain antispoof {\n\t\ttype filter hook prerouting priority -320; policy "
                  "accept;\n\t\tmeta mark 0x5e000002 return"));
  EXPECT_TRUE(has(r,
                  "ip saddr { 198.51.100.0/24 } tcp sport { 80, 443, 8000-8100 } fib saddr . iif "
                  "oif missing counter drop comment \"web spoofed source\""));
  EXPECT_TRUE(has(r,
                  "ip6 saddr { 2001:db8:5::/64 } tcp sport { 80, 443, 8000-8100 } fib saddr . "
                  "iif oif missing counter drop comment \"web spoofed source\""));
  EXPECT_LT(r.find("chain antispoof"), r.find("chain bypass"));
  // The same in local mode and in the iptables fallback (the chain stays in our table).
  RuleOptions o;
  o.mode = RuleMode::kLocal;
  o.nft_queue = false;
  EXPECT_TRUE(has(renderRules(services(), o), "fib saddr . iif oif missing counter drop"));
  EXPECT_FALSE(has(renderXtRules(services(), o, false), "spoofed"));
}

TEST(NftRules, ServerInterfacesAndOff) {
  auto v = services();
  v.push_back(*parseServiceSpec("db=10.0.0.5:5432"));
  v.push_back(*parseServiceSpec("x=10.9.0.0/16:22"));
  RuleOptions o;
  o.sides["web"] = config::ServiceSide{true, {"eth1", "bond0", "lo"}};
  o.sides["x"] = config::ServiceSide{false, {}};
  const std::string r = renderRules(v, o);
  EXPECT_TRUE(has(r,
                  "ip saddr { 198.51.100.0/24 } tcp sport { 80, 443, 8000-8100 } iifname != { "
                  "\"lo\", \"eth1\", \"bond0\" } counter drop comment \"web spoofed source\""));
  EXPECT_TRUE(has(r,
                  "ip saddr { 10.0.0.5/32 } tcp sport { 5432 } fib saddr . iif oif missing "
                  "counter drop comment \"db spoofed source\""));
  EXPECT_FALSE(has(r, "x spoofed source"));
  EXPECT_FALSE(sideOf(v[2], o).check);
  EXPECT_TRUE(sideOf(v[1], o).check);
  o.anti_spoofing = false;  // rules.anti_spoofing: off
  EXPECT_FALSE(has(renderRules(v, o), "chain antispoof"));
  EXPECT_FALSE(sideOf(v[0], o).check);
}

TEST(NftRules, SpoofCountersAreReadPerService) {
  QueueRuleReading r;
  parseRuleCounters(
      "table inet synguard {\n"
      "\tchain antispoof {\n"
      "\t\ttype filter hook prerouting priority -320; policy accept;\n"
      "\t\tmeta mark 0x5e000002 return comment \"our own packets, looped\"\n"
      "\t\tip saddr 198.51.100.0/24 tcp sport 8080 fib saddr . iif oif missing counter packets "
      "600 bytes 24000 drop comment \"web spoofed source\"\n"
      "\t\tip6 saddr 2001:db8:5::/64 tcp sport 8080 fib saddr . iif oif missing counter "
      "packets 7 bytes 560 drop comment \"web spoofed source\"\n"
      "\t\tip saddr 10.0.0.5 tcp sport 5432 iifname != { \"lo\", \"gs\" } counter packets 0 "
      "bytes 0 drop comment \"db.x spoofed source\"\n"
      "\t}\n"
      "\tchain prerouting {\n"
      "\t\tip daddr 198.51.100.0/24 tcp dport 8080 counter packets 11 bytes 1 queue flags "
      "bypass to 0-1 comment \"web\"\n"
      "\t}\n}\n",
      r);
  EXPECT_EQ(r.hits, 11U);
  EXPECT_EQ(r.rules, 1U);
  ASSERT_EQ(r.spoofed.size(), 2U);
  EXPECT_EQ(r.spoofed.at("web"), 607U);
  EXPECT_EQ(r.spoofed.at("db.x"), 0U);
}

}  // namespace
}  // namespace synguard::daemon
