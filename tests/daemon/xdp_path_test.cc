// The daemon side of the XDP fast path that needs no kernel: the service rows it writes from
// the engines' snapshots, the feedback deltas worker 0 hands to its engine, the per-interface
// totals, the counters' metric labels and the attach errors an operator reads.
#include "daemon/inline/xdp/xdp_path.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

#include "daemon/inline/xdp/offload_feedback.h"
#include "daemon/inline/xdp/xdp_figures.h"

namespace synguard::daemon::xdp {
namespace {

engine::EngineConfig twoServices() {
  engine::EngineConfig cfg;
  for (const char* name : {"web", "db"}) {
    engine::ServiceConfig s;
    s.name = name;
    cfg.protection.services.push_back(s);
  }
  cfg.protection.default_mss_v4 = 1400;
  cfg.protection.default_mss_v6 = 1380;
  return cfg;
}

WorkerSnapshot snapshot(engine::ServiceMode web, engine::ServiceMode db, bool learned_db) {
  WorkerSnapshot w;
  ServiceFigures a;
  a.name = "web";
  a.mode = web;
  ServiceFigures b;
  b.name = "db";
  b.mode = db;
  b.profile.learned = learned_db;
  b.profile.mss = learned_db ? 1200 : 0;
  b.profile.wscale = learned_db ? 9 : 7;
  w.services = {a, b};
  return w;
}

TEST(XdpServiceStates, CookieIfAnyWorkerIsAndTheFirstLearnedProfile) {
  const engine::EngineConfig cfg = twoServices();
  const auto normal = engine::ServiceMode::kNormal;
  const auto cookie = engine::ServiceMode::kCookie;
  const std::vector<ServiceState> rows =
      serviceStates(cfg, {snapshot(normal, normal, false), snapshot(cookie, normal, true),
                          snapshot(normal, normal, false)});
  ASSERT_EQ(rows.size(), 2U);
  EXPECT_EQ(rows[0].action, actionFor(cfg.protection.services[0], false, cookie));
  EXPECT_EQ(rows[1].action, actionFor(cfg.protection.services[1], false, normal));
  EXPECT_TRUE(rows[1].profile.learned) << "worker 1's learned profile, not worker 0's default";
  EXPECT_EQ(rows[1].profile.mss, 1200);
  EXPECT_EQ(rows[1].profile.wscale, 9);
  EXPECT_FALSE(rows[0].profile.learned) << "nobody learned it: worker 0's";
  EXPECT_EQ(rows[0].default_mss_v4, 1400);
  EXPECT_EQ(rows[0].default_mss_v6, 1380);
  EXPECT_TRUE(rows[0].deny_drop);
}

TEST(XdpServiceStates, MonitorAndDryRunDoNotDropDenied) {
  engine::EngineConfig cfg = twoServices();
  cfg.protection.services[1].monitor = true;
  const auto rows = serviceStates(
      cfg, {snapshot(engine::ServiceMode::kNormal, engine::ServiceMode::kCookie, false)});
  EXPECT_TRUE(rows[0].deny_drop);
  EXPECT_FALSE(rows[1].deny_drop);
  EXPECT_EQ(rows[1].action,
            actionFor(cfg.protection.services[1], false, engine::ServiceMode::kCookie));
  cfg.protection.dry_run = true;
  EXPECT_FALSE(serviceStates(cfg, {snapshot(engine::ServiceMode::kNormal,
                                            engine::ServiceMode::kNormal, false)})[0]
                   .deny_drop);
}

TEST(XdpServiceStates, ServicesTheEnginesDoNotKnowYetPass) {
  engine::EngineConfig cfg = twoServices();
  cfg.protection.services[1].mode = engine::ProtectionMode::kAlways;
  // A reload in progress: the snapshots still have the old services (or none at start).
  cfg.protection.services[1].name = "new";
  const auto rows = serviceStates(
      cfg, {snapshot(engine::ServiceMode::kCookie, engine::ServiceMode::kCookie, false)});
  EXPECT_EQ(rows[1].action, SG_XDP_SVC_PASS_NORMAL);
  EXPECT_EQ(serviceStates(cfg, {})[0].action, SG_XDP_SVC_PASS_NORMAL);
}

TEST(XdpCheckSource, OnWhenSomeServiceHasAntiSpoofing) {
  const engine::EngineConfig cfg = twoServices();
  std::map<std::string, config::ServiceSide> sides;
  EXPECT_TRUE(checkSource(cfg.protection, true, sides));
  EXPECT_FALSE(checkSource(cfg.protection, false, sides));
  sides["web"].check = false;
  EXPECT_TRUE(checkSource(cfg.protection, true, sides)) << "db still checks";
  sides["db"].check = false;
  EXPECT_FALSE(checkSource(cfg.protection, true, sides));
}

TEST(XdpOffloadFeedback, DeltasPerServiceAcrossReloads) {
  OffloadFeedback f;
  sg_xdp_svc_stats t{};
  t.syns_answered = 100;
  t.bytes_answered = 6000;
  engine::OffloadedCounts d = f.delta(0, t);
  EXPECT_EQ(d.syns_answered, 100U) << "counted from 0: the daemon loaded the program";
  EXPECT_EQ(d.bytes_answered, 6000U);
  EXPECT_FALSE(anything(f.delta(0, t))) << "nothing new";
  t.syns_answered = 150;
  t.bytes_answered = 9000;
  t.denied = 3;
  t.denied_bytes = 120;
  t.denied_syns = 2;
  d = f.delta(0, t);
  EXPECT_EQ(d.syns_answered, 50U);
  EXPECT_EQ(d.bytes_answered, 3000U);
  EXPECT_EQ(d.denied, 3U);
  EXPECT_EQ(d.denied_bytes, 120U);
  // A service added by a reload (a new position) starts from its own totals.
  sg_xdp_svc_stats u{};
  u.syns_answered = 7;
  EXPECT_EQ(f.delta(5, u).syns_answered, 7U);
  EXPECT_EQ(f.delta(0, t).syns_answered, 0U) << "position 0 kept its baseline";
  // Totals that went down (the program was loaded again): they count from 0.
  u.syns_answered = 2;
  EXPECT_EQ(f.delta(5, u).syns_answered, 2U);
}

TEST(XdpCounterTotals, SlotsChangingHandsKeepEachInterfaceMonotonic) {
  CounterTotals t;
  CounterArray r{};
  t.rebase(0, r);
  r[SG_XDP_TX_COOKIE] = 10;
  t.add(0, "eth0", r);
  r[SG_XDP_TX_COOKIE] = 25;
  t.add(0, "eth0", r);
  EXPECT_EQ(t.totals("eth0")[SG_XDP_TX_COOKIE], 25U);
  // eth0 leaves the list; slot 0 goes to eth1 from the slot's current reading.
  t.rebase(0, r);
  r[SG_XDP_TX_COOKIE] = 30;
  t.add(0, "eth1", r);
  EXPECT_EQ(t.totals("eth1")[SG_XDP_TX_COOKIE], 5U);
  EXPECT_EQ(t.totals("eth0")[SG_XDP_TX_COOKIE], 25U);
  EXPECT_EQ(t.totals("eth9")[SG_XDP_TX_COOKIE], 0U);
}

TEST(XdpCounterLabels, EveryCounterHasAnActionAndAUniqueReason) {
  std::set<std::string> reasons;
  for (int c = 0; c < SG_XDP_NCOUNTERS; ++c) {
    const CounterLabels l = counterLabels(static_cast<sg_xdp_counter>(c));
    EXPECT_TRUE(l.action == "tx" || l.action == "pass" || l.action == "drop") << c;
    EXPECT_FALSE(l.reason.empty()) << c;
    EXPECT_TRUE(reasons.insert(std::string(l.reason)).second) << l.reason;
  }
  EXPECT_EQ(counterLabels(SG_XDP_TX_COOKIE).action, "tx");
  EXPECT_EQ(counterLabels(SG_XDP_DROP_DENIED).reason, "denied");
  EXPECT_EQ(counterLabels(SG_XDP_PASS_NOT_SYN).reason, "not_syn");
  EXPECT_EQ(counterLabels(SG_XDP_PASS_NOT_READY).reason, "not_ready");
  InterfaceFigures f;
  f.counters[SG_XDP_TX_COOKIE] = 5;
  f.counters[SG_XDP_DROP_DENIED] = 2;
  f.counters[SG_XDP_PASS_NORMAL] = 3;
  f.counters[SG_XDP_PASS_OVERFLOW] = 4;
  EXPECT_EQ(f.answered(), 5U);
  EXPECT_EQ(f.dropped(), 2U);
  EXPECT_EQ(f.passed(), 7U);
}

TEST(XdpAttachError, NamesTheInterfaceAndWhatIsWrong) {
  EXPECT_EQ(attachError("eth0", AttachMode::kNative, EBUSY),
            "xdp: eth0: another XDP program is attached to the interface; synguard never "
            "replaces one (detach it first, e.g. `ip link set dev eth0 xdp off`, or remove the "
            "interface from xdp.interfaces)");
  EXPECT_EQ(attachError("eth0", AttachMode::kGeneric, EEXIST),
            attachError("eth0", AttachMode::kGeneric, EBUSY));
  EXPECT_EQ(attachError("veth1", AttachMode::kNative, EOPNOTSUPP),
            "xdp: veth1: the driver has no native XDP support (Operation not supported): use "
            "xdp.mode generic or auto");
  EXPECT_NE(attachError("eth0", AttachMode::kNative, EPERM).find("CAP_NET_ADMIN and CAP_BPF"),
            std::string::npos);
  EXPECT_EQ(attachError("eth0", AttachMode::kGeneric, ENODEV),
            "xdp: eth0: the interface does not exist");
}

TEST(XdpPath, StartSaysWhyTheProgramDidNotLoad) {
  // Without CAP_BPF the program does not load, and its error is the start error. As root (CI)
  // the check runs in a child that has become nobody, which leaves it without capabilities.
  EXPECT_EXIT(
      {
        if (::geteuid() == 0 &&
            (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0)) {
          std::_Exit(3);
        }
        config::XdpConfig cfg;
        cfg.interfaces = {"lo"};
        const auto r = XdpPath::start(cfg, twoServices().protection);
        if (r) {
          std::_Exit(2);
        }
        std::fprintf(stderr, "%s\n", r.error().message.c_str());
        std::_Exit(r.error().message.rfind("xdp: cannot load the XDP program: ", 0) == 0 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "xdp: cannot load the XDP program: .*CAP_BPF");
}

}  // namespace
}  // namespace synguard::daemon::xdp
