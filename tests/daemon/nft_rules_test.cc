#include "daemon/inline/nft_rules.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "daemon/cli/service_spec.h"

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

/// Every one of `parts` is in `text`.
void expectHasAll(const std::string& text, std::initializer_list<const char*> parts) {
  for (const char* part : parts) {
    EXPECT_TRUE(has(text, part)) << part;
  }
}

/// Options whose bypass and handoff sets hold 1000 elements for 60 s, as expectTupleSets wants.
RuleOptions smallSets() {
  return RuleOptions{.bypass_capacity = 1000,
                     .bypass_timeout_s = 60,
                     .handoff_capacity = 1000,
                     .handoff_timeout_s = 60};
}

/// `r` (rendered with smallSets()) declares the connection tuple sets NAME4 and NAME6, and the
/// prerouting chain at `priority` that reads them before the queue.
void expectTupleSets(const std::string& r, const std::string& name, int priority) {
  EXPECT_TRUE(has(r, "set " + name +
                         "4 {\n\t\ttype ipv4_addr . inet_service . ipv4_addr . inet_service\n"
                         "\t\tsize 1000\n\t\ttimeout 60s\n\t\tflags dynamic,timeout\n"))
      << name;
  EXPECT_TRUE(has(r, "set " + name + "6 {")) << name;
  EXPECT_TRUE(has(r, "type filter hook prerouting priority " + std::to_string(priority) + ";"))
      << name;
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

TEST(NftRules, OverloadDropSynSendsSynsAndFragmentsToTheSynQueues) {
  RuleOptions o;
  o.queues = 2;
  o.first_queue = 10;
  const std::string r = renderRules(services(), o);  // overload: drop_syn by default
  const std::string syn =
      "ip daddr { 198.51.100.0/24 } tcp dport { 80, 443, 8000-8100 } "
      "tcp flags & (syn | ack | fin | rst) == syn counter queue num 12-13 bypass comment "
      "\"web SYNs\"";
  const std::string rest =
      "ip daddr { 198.51.100.0/24 } tcp dport { 80, 443, 8000-8100 } "
      "counter queue num 10-11 bypass comment \"web\"";
  ASSERT_TRUE(has(r, syn)) << r;
  ASSERT_TRUE(has(r, rest));
  EXPECT_LT(r.find(syn), r.find(rest)) << "the SYN rule must come first";
  EXPECT_TRUE(has(r,
                  "ip6 daddr { 2001:db8:5::/64 } tcp dport { 80, 443, 8000-8100 } tcp flags & "
                  "(syn | ack | fin | rst) == syn counter queue num 12-13 bypass"));
  EXPECT_TRUE(has(r, "ip frag-off & 0x3fff != 0 counter queue num 12-13 bypass"));
  EXPECT_TRUE(has(r, "exthdr frag exists counter queue num 12-13 bypass"));
  // Replies and everything else stay on the regular (fail-open) queues.
  EXPECT_TRUE(has(r, "tcp sport { 80, 443, 8000-8100 } counter queue num 10-11 bypass"));
  o.queues = 1;
  EXPECT_TRUE(has(renderRules(services(), o), "== syn counter queue num 11 bypass"));

  // pass, mode off, monitor: no SYN queue, the rules of before.
  for (int variant = 0; variant < 3; ++variant) {
    auto v = services();
    if (variant == 0) {
      v[0].overload = engine::OverloadPolicy::kPass;
    } else if (variant == 1) {
      v[0].mode = engine::ProtectionMode::kOff;
    } else {
      v[0].monitor = true;
    }
    EXPECT_FALSE(dropsSynsOnOverload(v[0]));
    const std::string p = renderRules(v, o);
    EXPECT_FALSE(has(p, "tcp flags & (syn | ack | fin | rst) == syn")) << variant;
    EXPECT_FALSE(has(p, "queue num 11")) << variant;
    EXPECT_TRUE(has(p, "ip frag-off & 0x3fff != 0 counter queue num 10 bypass")) << variant;
  }
  EXPECT_TRUE(dropsSynsOnOverload(services()[0]));
}

TEST(NftRules, XtFallbackHasTheSynQueuesToo) {
  RuleOptions o;
  o.queues = 2;
  o.first_queue = 4;
  o.nft_queue = false;
  const std::string v4 = renderXtRules(services(), o, false);
  const std::string syn =
      "-A SYNGUARD -d 198.51.100.0/24 -p tcp --tcp-flags SYN,ACK,FIN,RST SYN -m multiport "
      "--dports 80,443,8000:8100 -j NFQUEUE --queue-balance 6:7 --queue-bypass";
  const std::string rest =
      "-A SYNGUARD -d 198.51.100.0/24 -p tcp -m multiport --dports 80,443,8000:8100 -j NFQUEUE "
      "--queue-balance 4:5 --queue-bypass";
  ASSERT_TRUE(has(v4, syn)) << v4;
  EXPECT_LT(v4.find(syn), v4.find(rest));
  EXPECT_TRUE(has(v4, "-A SYNGUARD -d 198.51.100.0/24 -p tcp -f -j NFQUEUE --queue-balance 6:7"));
  EXPECT_TRUE(has(renderXtRules(services(), o, true),
                  "-A SYNGUARD -d 2001:db8:5::/64 -p tcp --tcp-flags SYN,ACK,FIN,RST SYN"));
  auto pass = services();
  pass[0].overload = engine::OverloadPolicy::kPass;
  EXPECT_FALSE(has(renderXtRules(pass, o, false), "--tcp-flags"));
  EXPECT_FALSE(has(renderXtRules(pass, o, false), "6:7"));
}

TEST(NftRules, IcmpErrorsToServicesAreQueuedIncludingTheGatewaysOwn) {
  RuleOptions o;
  const std::string r = renderRules(services(), o);
  const std::string v4 =
      "ip daddr { 198.51.100.0/24 } icmp type { destination-unreachable, time-exceeded, "
      "parameter-problem } counter queue num 0 bypass comment \"web icmp errors\"\n";
  const std::string v6 =
      "ip6 daddr { 2001:db8:5::/64 } icmpv6 type { destination-unreachable, packet-too-big, "
      "time-exceeded, parameter-problem } counter queue num 0 bypass comment \"web icmp "
      "errors\"\n";
  // From routers (prerouting) and from the gateway itself (output, after our own packets
  // return: no loop).
  const auto pre = r.find("chain prerouting {");
  const auto out = r.find("chain output {");
  const auto out_end = r.find("chain output_proxied {");
  ASSERT_NE(pre, std::string::npos);
  ASSERT_NE(out, std::string::npos);
  EXPECT_LT(r.find(v4, pre), out);
  EXPECT_LT(r.find(v6, pre), out);
  EXPECT_GT(r.find(v4, out), r.find("meta mark 0x5e000002 return", out));
  EXPECT_LT(r.find(v4, out), out_end);
  EXPECT_LT(r.find(v6, out), out_end);
  EXPECT_FALSE(has(r, "ip saddr { 198.51.100.0/24 } icmp")) << "nothing toward clients";
  // A server protecting itself generates no errors about its own forwarded packets.
  o.mode = RuleMode::kLocal;
  const std::string l = renderRules(services(), o);
  EXPECT_NE(l.find(v4), std::string::npos);
  EXPECT_EQ(l.find(v4, l.find("chain output {")), std::string::npos) << "none in output";

  o.mode = RuleMode::kGateway;
  o.nft_queue = false;
  const std::string x4 = renderXtRules(services(), o, false);
  for (const char* chain : {"SYNGUARD", "SYNGUARD_OUT"}) {
    EXPECT_TRUE(has(x4, std::string("-A ") + chain +
                            " -d 198.51.100.0/24 -p icmp --icmp-type destination-unreachable "
                            "-j NFQUEUE --queue-num 0 --queue-bypass"));
  }
  EXPECT_TRUE(has(x4, "-A SYNGUARD -d 198.51.100.0/24 -p icmp --icmp-type time-exceeded"));
  EXPECT_TRUE(has(x4, "-A SYNGUARD -d 198.51.100.0/24 -p icmp --icmp-type parameter-problem"));
  EXPECT_TRUE(has(x4, "-A SYNGUARD_OUT -m mark --mark 0x5e000002 -j RETURN"));
  EXPECT_TRUE(has(x4, "-I OUTPUT -j SYNGUARD_OUT"));
  const std::string x6 = renderXtRules(services(), o, true);
  EXPECT_TRUE(has(x6,
                  "-A SYNGUARD_OUT -d 2001:db8:5::/64 -p ipv6-icmp --icmpv6-type packet-too-big "
                  "-j NFQUEUE"));
}

TEST(NftRules, EstablishedConnectionsBypassTheQueueUntilAFinOrRst) {
  RuleOptions o = smallSets();
  const std::string r = renderRules(services(), o);
  // Before the queue: the close ends the bypass; plain segments of known tuples are marked.
  expectTupleSets(r, "bypass", -310);
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

namespace synguard::daemon {
namespace {

TEST(NftRules, HandoffSetsSkipTheQueueAndKeepConntrack) {
  RuleOptions o = smallSets();
  EXPECT_FALSE(has(renderRules(services(), o), "handoff")) << "only with proxy.handoff";
  EXPECT_FALSE(has(renderXtRules(services(), o, false), "0x5e000006"));
  o.handoff = true;
  const std::string r = renderRules(services(), o);
  // Before the queue (-300), FIN and RST included, SYNs never (a new handshake on the tuple is
  // the engine's): renew, mark.
  expectTupleSets(r, "handoff", -305);
  EXPECT_TRUE(has(r,
                  "tcp flags & syn == 0 ip saddr . tcp sport . ip daddr . tcp dport @handoff4 "
                  "update @handoff4 { ip saddr . tcp sport . ip daddr . tcp dport } meta mark "
                  "set 0x5e000006"));
  EXPECT_TRUE(has(r, "tcp flags & syn == 0 ip6 saddr . tcp sport . ip6 daddr"));
  expectHasAll(r, {
                      "meta mark 0x5e000006 return comment \"handed off\"",
                      // Not notracked: the mark is cleared in the chain that notracks the
                      // proxied verdicts.
                      "meta mark 0x5e000001 notrack\n\t\tmeta mark 0x5e000006 meta mark set 0\n",
                      "ct mark 0x5e000005 counter",
                      "chain handoff_synproxy {\n\t\tsynproxy mss 1460 wscale 7 timestamp",
                  });
  EXPECT_TRUE(has(renderXtRules(services(), o, false),
                  "-A SYNGUARD -m mark --mark 0x5e000006 -j RETURN\n"));
}

}  // namespace
}  // namespace synguard::daemon
