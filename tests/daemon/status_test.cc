#include "daemon/cli/status.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <sstream>
#include <string>

#include "daemon/inline/metrics.h"

namespace synguard::daemon {
namespace {

/// The view with runs of spaces squeezed to one (the columns' widths are not the point).
std::string squeeze(const std::string& v) {
  std::string out;
  for (const char c : v) {
    if (!(c == ' ' && !out.empty() && out.back() == ' ')) {
      out += c;
    }
  }
  return out;
}

TEST(Status, RendersTheDaemonsOwnExposition) {
  WorkerSnapshot w;
  w.half_open = 1234;
  w.table = 5000;
  w.table_capacity = 1 << 20;
  ServiceFigures web;
  web.name = "web";
  web.half_open = 1200;
  web.peak_half_open = 1500;
  web.syn_rate = 48000;
  web.cookies_sent = 250000;
  web.cookies_validated = 220;
  web.mode = engine::ServiceMode::kCookie;
  ServiceFigures ssh;
  ssh.name = "ssh";
  ssh.half_open = 34;
  w.services = {web, ssh};
  w.engine.proxy_refused = 7;  // described engine counters: listed when not zero
  w.engine.would_drop[static_cast<std::size_t>(engine::VerdictReason::kSourceRate)] = 2;
  w.engine.would_drop[static_cast<std::size_t>(engine::VerdictReason::kDenied)] = 3;
  ReloadCounters reloads;
  reloads.success = 3;
  std::ostringstream os;
  prometheus::TextSerializer().Serialize(os, collectMetrics({"0.1.0", 0}, {w}, {}, reloads));
  const std::string view = squeeze(renderStatus(os.str()));
  EXPECT_NE(view.find("synguard 0.1.0 half-open 1234 table 5000/1.0M"), std::string::npos) << view;
  EXPECT_NE(view.find("web COOKIE 1200 1500 48.0k 0 250.0k 220 0"), std::string::npos) << view;
  EXPECT_NE(view.find("ssh normal 34 0 0 0 0 0 0"), std::string::npos) << view;
  EXPECT_NE(view.find("reloads ok/failed 3/0"), std::string::npos) << view;
  EXPECT_NE(view.find("\n proxy_refused 7\n"), std::string::npos) << view;
  EXPECT_NE(view.find("\n would_drop 5\n"), std::string::npos) << view;
  EXPECT_EQ(view.find("proxy_syns_resent"), std::string::npos) << view;  // zero: not listed
  EXPECT_EQ(view.find("XDP"), std::string::npos) << "no XDP: no XDP table\n" << view;
}

TEST(Status, ShowsEachXdpInterfaceWithItsModeAndFigures) {
  xdp::InterfaceFigures eth0;
  eth0.name = "eth0";
  eth0.mode = xdp::AttachMode::kNative;
  eth0.counters[SG_XDP_TX_COOKIE] = 1'500'000;
  eth0.counters[SG_XDP_PASS_NOT_SYN] = 300;
  eth0.counters[SG_XDP_PASS_NORMAL] = 20;
  eth0.counters[SG_XDP_DROP_DENIED] = 4;
  xdp::InterfaceFigures eth1;
  eth1.name = "eth1";
  eth1.reattaches = 2;
  ReloadCounters reloads;
  std::ostringstream os;
  prometheus::TextSerializer().Serialize(
      os, collectMetrics({"0.1.0", 0}, {WorkerSnapshot{}}, {}, reloads, 0, 0, {}, {eth0, eth1}));
  const std::string view = squeeze(renderStatus(os.str()));
  EXPECT_NE(view.find("XDP INTERFACE MODE ANSWERED PASSED DROPPED REATTACH\n"), std::string::npos)
      << view;
  EXPECT_NE(view.find("\neth0 native 1.5M 320 4 0\n"), std::string::npos) << view;
  EXPECT_NE(view.find("\neth1 DETACHED 0 0 0 2\n"), std::string::npos) << view;
}

TEST(Status, SaysWhenNoDaemonListens) {
  const auto r = fetchMetrics("127.0.0.1:1");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("no synguard metrics endpoint at 127.0.0.1:1"),
            std::string::npos);
  EXPECT_FALSE(fetchMetrics("no-such-host.invalid:9815").has_value());
}

}  // namespace
}  // namespace synguard::daemon
