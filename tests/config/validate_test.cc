// Validation: every class of bad input gives its message at the LINE:COL of the offending
// node, all of them at once, and nothing crashes.
#include <gtest/gtest.h>

#include <string>

#include "config/loader.h"

namespace synguard::config {
namespace {

LoadResult load(const std::string& yaml) { return loadConfigString(yaml, "test.yaml"); }

/// Every diagnostic as "LINE:COL: message", one per line.
std::string errors(const LoadResult& r) {
  std::string s;
  for (const auto& d : r.errors) {
    s += std::to_string(d.line) + ":" + std::to_string(d.column) + ": " + d.message + "\n";
  }
  return s;
}

TEST(ConfigValidation, EveryProblemIsReportedAtOnceWithItsLocation) {
  const auto r = load(R"(services:
  - name: web
    addresses: [198.51.100.0/33, 10.0.0.1]
    ports: [80, 70000, "90-80", http]
    half_open: {on: 500, off: 600}
    syn_rate: {on: 10, off: 10}
    mode: sometimes
    hold: soon
    half_opn: 3
queues: {count: -1}
timeouts: {syn_sent: 0s}
table: {capacity: lots}
dry_run: maybe
metrics: {listen: localhost}
)");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(errors(r),
            "3:17: services[0].addresses[0]: '198.51.100.0/33': prefix length must be 0 to 32\n"
            "4:17: services[0].ports[1]: 70000 is not a port (1-65535)\n"
            "4:24: services[0].ports[2]: range 90-80 ends before it starts\n"
            "4:33: services[0].ports[3]: expected a port or a range like 8000-8100, got 'http'\n"
            "5:16: services[0].half_open: off (600) must be below on (500)\n"
            "6:15: services[0].syn_rate: off (10) must be below on (10)\n"
            "7:11: services[0].mode: expected off, adaptive or always, got 'sometimes'\n"
            "8:11: services[0].hold: expected a duration like 500ms, 30s, 2m, 1h or 5d, got "
            "'soon'\n"
            "9:5: unknown key 'services[0].half_opn' (did you mean 'half_open'?)\n"
            "10:17: queues.count: -1 is out of range (0-64)\n"
            "11:22: timeouts.syn_sent: 0s is out of range (1ms-20d)\n"
            "12:19: table.capacity: expected a whole number, got 'lots'\n"
            "13:10: dry_run: expected true or false, got 'maybe'\n"
            "14:19: metrics.listen: 'localhost' is not ADDRESS:PORT (e.g. 127.0.0.1:9815 or "
            "[::1]:9815)\n");
  EXPECT_EQ(r.errors[0].toString(),
            "test.yaml:3:17: services[0].addresses[0]: '198.51.100.0/33': prefix length must be "
            "0 to 32");
}

TEST(ConfigValidation, UnknownKeysSuggestTheClosestKnownOne) {
  const auto r = load(R"(queus: {count: 1}
rules: {mod: local, tabel: x}
services:
  - {name: a, addresses: [192.0.2.1], ports: [1], half_opn: {on: 2, off: 1}}
logging: {rate_limit: {per_sec: 1}}
frobnicate: true
Dry_Run: true
)");
  EXPECT_EQ(errors(r),
            "1:1: unknown key 'queus' (did you mean 'queues'?)\n"
            "2:9: unknown key 'rules.mod' (did you mean 'mode'?)\n"
            "2:21: unknown key 'rules.tabel' (did you mean 'table'?)\n"
            "4:51: unknown key 'services[0].half_opn' (did you mean 'half_open'?)\n"
            "5:24: unknown key 'logging.rate_limit.per_sec'\n"
            "6:1: unknown key 'frobnicate'\n"
            "7:1: unknown key 'Dry_Run' (did you mean 'dry_run'?)\n");
}

TEST(ConfigValidation, WrongTypesSayWhatWasExpected) {
  const auto r = load(R"(queues: 4
services: {name: web}
timeouts: [1, 2]
rules: {nft_table: [a], bypass_established: [true]}
user: {name: x}
allow: 10.0.0.0/8
cookies: {mss_v4: 1460}
)");
  EXPECT_EQ(errors(r),
            "1:9: queues: expected a map of keys, got '4'\n"
            "2:11: services: expected a list of services, got a map\n"
            "3:11: timeouts: expected a map of keys, got a list\n"
            "4:20: rules.nft_table: expected a string, got a list\n"
            "4:45: rules.bypass_established: expected true or false, got a list\n"
            "5:7: user: expected a string, got a map\n"
            "6:8: allow: expected a list of addresses or prefixes, got '10.0.0.0/8'\n"
            "7:19: cookies.mss_v4: expected a list of 1 to 8 MSS values, got '1460'\n");
}

TEST(ConfigValidation, AKeyWithoutAValueIsLocatedAtTheKey) {
  // The null value's own mark is the next token, on the next line: the key is meant.
  const auto r = load(R"(services:
  - name: web
    addresses: [192.0.2.1]
    ports:
    hold:
metrics:
  listen:
)");
  EXPECT_EQ(errors(r),
            "4:5: services[0].ports: expected a list of ports or ranges like \"8000-8100\", got "
            "nothing\n"
            "5:5: services[0].hold: expected a duration, got nothing\n"
            "7:3: metrics.listen: expected a string, got nothing\n");
}

TEST(ConfigValidation, OutOfRangeValues) {
  const auto r = load(R"(queues: {count: 65, first: 65500}
emergency: {enter_fill: 0, leave_fill: 1.5}
table: {capacity: 100}
half_open_accounting: {source_prefix_v4: 33, source_prefix_v6: 0, service_capacity: 0}
cookies: {key_file: relative.key, max_age_windows: 32, default_mss_v4: 20}
proxy: {capacity: 0, early_segments_per_connection: 65}
logging: {level: loud, rate_limit: {per_second: -1, burst: 0}}
stats_interval: 2h
services:
  - {name: a, addresses: [192.0.2.1], ports: [0, 65536, "1-0"], wscale: 15, mss: 10}
  - {name: b, addresses: [192.0.2.2], ports: [1], wscale: big, hold: 25h}
)");
  EXPECT_EQ(errors(r),
            "1:17: queues.count: 65 is out of range (0-64)\n"
            "1:28: queues.first: 65500 is out of range (0-65408)\n"
            "2:25: emergency.enter_fill: 0 is out of range (above 0, up to 1)\n"
            "2:40: emergency.leave_fill: 1.5 is out of range (0-1)\n"
            "3:19: table.capacity: 100 is out of range (1024-268435456)\n"
            "4:42: half_open_accounting.source_prefix_v4: 33 is out of range (1-32)\n"
            "4:64: half_open_accounting.source_prefix_v6: 0 is out of range (1-128)\n"
            "4:85: half_open_accounting.service_capacity: 0 is out of range (16-16777216)\n"
            "5:21: cookies.key_file: 'relative.key' is not an absolute path\n"
            "5:52: cookies.max_age_windows: 32 is out of range (1-31)\n"
            "5:72: cookies.default_mss_v4: 20 is out of range (64-65535)\n"
            "6:19: proxy.capacity: 0 is out of range (1-67108864)\n"
            "6:53: proxy.early_segments_per_connection: 65 is out of range (0-64)\n"
            "7:18: logging.level: expected error, warning, notice, info or debug, got 'loud'\n"
            "7:49: logging.rate_limit.per_second: -1 is out of range (0-1e+06)\n"
            "7:60: logging.rate_limit.burst: 0 is out of range (1-1000000)\n"
            "8:17: stats_interval: 2h is out of range (0s-1h)\n"
            "10:47: services[0].ports[0]: 0 is not a port (1-65535)\n"
            "10:50: services[0].ports[1]: 65536 is not a port (1-65535)\n"
            "10:57: services[0].ports[2]: 1-0 is not a port (1-65535)\n"
            "10:73: services[0].wscale: 15 is out of range (0-14)\n"
            "10:82: services[0].mss: 10 is out of range (64-65535)\n"
            "11:59: services[1].wscale: expected 0 to 14 or none, got 'big'\n"
            "11:70: services[1].hold: 25h is out of range (0s-1d)\n");
}

TEST(ConfigValidation, UnassuredEntriesAndTheProxyCap) {
  const auto r = load(R"(table: {assured_reserve: 0.95}
proxy: {max_per_source: -1}
timeouts: {unassured: 0s}
)");
  EXPECT_EQ(errors(r),
            "1:26: table.assured_reserve: 0.95 is out of range (0-0.9)\n"
            "2:25: proxy.max_per_source: -1 is out of range (0-67108864)\n"
            "3:23: timeouts.unassured: 0s is out of range (1ms-20d)\n");
}

TEST(ConfigValidation, BadAddressesAndPrefixes) {
  const auto r = load(R"(allow: [10.0.0.1/8, "2001:db8::/129", 300.1.2.3, [10.0.0.0/8]]
deny: [host.example]
)");
  EXPECT_EQ(errors(r),
            "1:9: allow[0]: '10.0.0.1/8': host bits set (did you mean 10.0.0.0/8?)\n"
            "1:21: allow[1]: '2001:db8::/129': prefix length must be 0 to 128\n"
            "1:39: allow[2]: '300.1.2.3': not an IPv4 or IPv6 address\n"
            "1:50: allow[3]: expected an address or prefix, got a list\n"
            "2:8: deny[0]: 'host.example': not an IPv4 or IPv6 address\n");
}

TEST(ConfigValidation, CrossFieldRulesPointAtTheValueThatBreaksThem) {
  const auto r = load(R"(emergency: {enter_fill: 0.5, leave_fill: 0.6}
proxy: {max_ack_delay: 4s, server_timeout: 1s}
cookies: {window: 60s, max_age_windows: 2, rotation: 2m}
services:
  - {name: a, addresses: [192.0.2.1], ports: [1], half_open: {off: 1000}}
  - {name: b, addresses: [192.0.2.2], ports: [1], syn_rate: {on: 2000}}
)");
  EXPECT_EQ(errors(r),
            "1:42: emergency.leave_fill: 0.6 must be below enter_fill (0.5)\n"
            "2:24: proxy.max_ack_delay: 4s must be below server_timeout (1s)\n"
            "3:54: cookies.rotation: 2m is shorter than a cookie's life (window × "
            "(max_age_windows + 1) = 3m)\n"
            "5:62: services[0].half_open: off (1000) must be below on (1000)\n"
            "6:61: services[1].syn_rate: off (2000) must be below on (2000)\n");
}

TEST(ConfigValidation, MssTables) {
  const auto r = load(R"(cookies:
  mss_v4: [1460, 536, 1440]
  mss_v6: [1, 2, 3, 4, 5, 6, 7, 8, 9]
)");
  EXPECT_EQ(errors(r),
            "2:18: cookies.mss_v4[1]: 536 must be above the value before it (1460): the table is "
            "ascending\n"
            "3:11: cookies.mss_v6: expected a list of 1 to 8 MSS values, got 9 values\n");
  EXPECT_EQ(errors(load("cookies: {mss_v4: []}")),
            "1:19: cookies.mss_v4: expected a list of 1 to 8 MSS values, got 0 values\n");
  EXPECT_EQ(errors(load("cookies: {mss_v4: [536, 536]}")),
            "1:25: cookies.mss_v4[1]: 536 must be above the value before it (536): the table is "
            "ascending\n");
}

TEST(ConfigValidation, ServicesNeedANameAddressesAndPorts) {
  const auto r = load(R"(services:
  - mode: always
  - name: 'bad name'
    addresses: []
    ports: []
  - 42
)");
  EXPECT_EQ(errors(r),
            "2:5: services[0]: a service needs a name\n"
            "2:5: services[0]: a service needs addresses\n"
            "2:5: services[0]: a service needs ports\n"
            "3:11: services[1].name: 'bad name' is not a name: use letters, digits, '_', '-' "
            "and '.'\n"
            "4:16: services[1].addresses: empty (a service needs addresses)\n"
            "5:12: services[1].ports: expected a list of ports or ranges like \"8000-8100\", got "
            "an empty list\n"
            "6:5: services[2]: expected a map of keys, got '42'\n");
}

TEST(ConfigValidation, DuplicateAndOverlappingServicesNameBoth) {
  const auto r = load(R"(services:
  - name: web
    addresses: [198.51.100.0/24, "2001:db8::/64"]
    ports: [80, "8000-8100"]
  - name: api
    addresses: [198.51.100.10]
    ports: [8080]
  - name: web
    addresses: [203.0.113.1]
    ports: [22]
  - name: v6
    addresses: ["2001:db8::/48"]
    ports: [1-100]
  - name: mail
    addresses: [198.51.100.0/24]
    ports: [25]
)");
  EXPECT_EQ(errors(r),
            "5:5: services[1]: 'api' overlaps service 'web' (services[0]): both cover "
            "198.51.100.10/32 port 8080\n"
            "8:11: services[2].name: 'web' is already the name of services[0]\n"
            "11:5: services[3]: 'v6' overlaps service 'web' (services[0]): both cover "
            "2001:db8::/64 port 80\n");
  // mail shares web's addresses but not its ports: no overlap.
}

TEST(ConfigValidation, TooManyServices) {
  std::string doc = "services:\n";
  for (int i = 0; i < 257; ++i) {
    doc += "  - {name: s" + std::to_string(i) + ", addresses: [10.0.0." + std::to_string(i % 256) +
           "], ports: [" + std::to_string(i + 1) + "]}\n";
  }
  EXPECT_EQ(errors(load(doc)), "2:3: services: 257 services, at most 256\n");
}

TEST(ConfigValidation, DuplicateKeys) {
  const auto r =
      load("queues: {count: 1}\nqueues: {count: 2}\nrules: {mode: local, mode: gateway}\n");
  EXPECT_EQ(errors(r),
            "2:1: queues: duplicate key (only the first one would count)\n"
            "3:22: rules.mode: duplicate key (only the first one would count)\n");
}

TEST(ConfigValidation, ChoicesSuggestTheClosestValue) {
  const auto r = load(R"(rules: {mode: gatway}
logging: {level: Info}
services:
  - {name: a, addresses: [192.0.2.1], ports: [1], mode: adaptve}
)");
  EXPECT_EQ(errors(r),
            "1:15: rules.mode: expected gateway or local, got 'gatway' (did you mean 'gateway'?)\n"
            "2:18: logging.level: expected error, warning, notice, info or debug, got 'Info' "
            "(did you mean 'info'?)\n"
            "4:57: services[0].mode: expected off, adaptive or always, got 'adaptve' (did you "
            "mean 'adaptive'?)\n");
}

TEST(ConfigValidation, OverloadPolicyAndTheSynQueueRange) {
  const auto r = load(R"(services:
  - {name: a, addresses: [192.0.2.1], ports: [1], overload: drop}
queues: {first: 65409}
)");
  EXPECT_EQ(errors(r),
            "2:61: services[0].overload: expected drop_syn or pass, got 'drop'\n"
            "3:17: queues.first: 65409 is out of range (0-65408)\n");
  const auto ok = load("queues: {first: 65408, count: 64}\n");
  EXPECT_TRUE(ok.ok()) << errors(ok);
}

TEST(ConfigValidation, MetricsListen) {
  for (const char* good : {"127.0.0.1:9815", "0.0.0.0:1", "[::1]:9815", "[::]:65535"}) {
    const auto r = load(std::string("metrics: {listen: \"") + good + "\"}");
    ASSERT_TRUE(r.ok()) << good << "\n" << errors(r);
    EXPECT_EQ(r.config->metrics_listen, good);
  }
  for (const char* bad : {"9815", ":9815", "localhost:9815", "127.0.0.1:0", "127.0.0.1:65536",
                          "127.0.0.1:", "::1:9815", "[127.0.0.1]:9815", "[::1]9815"}) {
    EXPECT_EQ(errors(load(std::string("metrics: {listen: \"") + bad + "\"}")),
              std::string("1:19: metrics.listen: '") + bad +
                  "' is not ADDRESS:PORT (e.g. 127.0.0.1:9815 or [::1]:9815)\n");
  }
}

TEST(ConfigValidation, BooleansAsYamlWritesThem) {
  for (const char* yes : {"true", "True", "TRUE", "yes", "on"}) {
    const auto r = load(std::string("dry_run: ") + yes);
    ASSERT_TRUE(r.ok()) << yes << "\n" << errors(r);
    EXPECT_TRUE(r.config->engine.protection.dry_run);
  }
  EXPECT_EQ(errors(load("dry_run: 1")), "1:10: dry_run: expected true or false, got '1'\n");
}

TEST(ConfigValidation, SyntaxErrorsAreLocatedAndDoNotCrash) {
  // An unclosed bracket: yaml-cpp stops at the end of the text.
  auto r = load("services: [\n  {name: web\n");
  EXPECT_EQ(errors(r), "3:1: YAML: end of map flow not found\n");
  r = load("allow: [10.0.0.1\ndeny: []\n");
  EXPECT_EQ(errors(r), "2:5: YAML: end of sequence flow not found\n");
  r = load("dry_run: true\n\tuser: x\n");
  EXPECT_EQ(errors(r), "2:1: YAML: illegal tab when looking for indentation\n");
  r = load("allow: [*nowhere]\n");
  EXPECT_EQ(errors(r), "1:9: YAML: the referenced anchor is not defined\n");
  // yaml-cpp 0.7 takes a stray top-level ',' for an empty document (the defaults!) and
  // LoadAll loops on it until memory runs out (jbeder/yaml-cpp#1040): refused, at once.
  r = load(",\nservices: []\n");
  EXPECT_EQ(errors(r), "1:1: YAML: unexpected ',' outside a [list] or {map}\n");
  r = load("---\n, dry_run: true\n");
  EXPECT_EQ(errors(r), "2:1: YAML: unexpected ',' outside a [list] or {map}\n");
  // Deep nesting is refused by yaml-cpp's depth guard, not by our stack.
  r = load(std::string(100000, '['));
  ASSERT_EQ(r.errors.size(), 1U);
  EXPECT_NE(r.errors[0].message.find("YAML: nested too deeply"), std::string::npos) << errors(r);
  EXPECT_FALSE(r.ok());
}

TEST(ConfigValidation, TheConfigurationIsOneMap) {
  EXPECT_EQ(errors(load("- a\n- b\n")),
            "1:1: the configuration: expected a map of keys, got a list\n");
  EXPECT_EQ(errors(load("just words\n")),
            "1:1: the configuration: expected a map of keys, got 'just words'\n");
  EXPECT_EQ(errors(load("dry_run: true\n---\ndry_run: false\n")),
            "2:1: a second YAML document ('---'): the configuration is one document\n");
  EXPECT_EQ(errors(load("? [a, b]\n: 1\n")),
            "1:3: the configuration: a key must be a plain word, got a list\n");
}

TEST(ConfigValidation, ValuesBeyondTheirTypesAreOutOfRangeNotGarbage) {
  const auto r = load(R"(table: {capacity: 99999999999999999999999}
services:
  - {name: a, addresses: [192.0.2.1], ports: [1], per_source: {half_open: 4294967296}}
  - {name: b, addresses: [192.0.2.2], ports: [1], half_open: {on: 1e3, off: 1.5}}
)");
  EXPECT_EQ(errors(r),
            "1:19: table.capacity: 99999999999999999999999 is out of range (1024-268435456)\n"
            "3:75: services[0].per_source.half_open: 4294967296 is out of range (0-4294967295)\n"
            "4:67: services[1].half_open.on: expected a whole number, got '1e3'\n"
            "4:77: services[1].half_open.off: expected a whole number, got '1.5'\n");
}

TEST(ConfigValidation, AntiSpoofingSettings) {
  const auto r = load(R"(rules: {anti_spoofing: strict}
services:
  - {name: a, addresses: [10.0.0.1], ports: [80], anti_spoofing: yes}
  - {name: b, addresses: [10.0.0.2], ports: [80], server_interfaces: eth1}
  - {name: c, addresses: [10.0.0.3], ports: [80], server_interfaces: []}
  - {name: d, addresses: [10.0.0.4], ports: [80], server_interfaces: [eth1, "a/b", eth1, 0123456789abcdef]}
  - {name: e, addresses: [10.0.0.5], ports: [80], anti_spoofing: off, server_interfaces: [eth1]}
)");
  EXPECT_EQ(errors(r),
            "1:24: rules.anti_spoofing: expected auto or off, got 'strict'\n"
            "3:66: services[0].anti_spoofing: expected auto or off, got 'yes'\n"
            "4:70: services[1].server_interfaces: expected a list of interface names, got 'eth1'\n"
            "5:70: services[2].server_interfaces: empty (leave it out to follow the kernel's "
            "routes)\n"
            "6:77: services[3].server_interfaces[1]: 'a/b' is not an interface name: 1 to 15 "
            "letters, digits, '_', '-', '.' or '@'\n"
            "6:84: services[3].server_interfaces[2]: 'eth1' is already in the list\n"
            "6:90: services[3].server_interfaces[3]: '0123456789abcdef' is not an interface name: "
            "1 to 15 letters, digits, '_', '-', '.' or '@'\n"
            "7:66: services[4].anti_spoofing: off, but server_interfaces is set (remove one of "
            "them)\n");
  const auto ok = load(R"(services:
  - {name: a, addresses: [10.0.0.1], ports: [80], server_interfaces: [eth1, bond0]}
  - {name: b, addresses: [10.0.0.2], ports: [80], anti_spoofing: off}
  - {name: c, addresses: [10.0.0.3], ports: [80], anti_spoofing: auto}
)");
  ASSERT_TRUE(ok.ok()) << errors(ok);
  EXPECT_TRUE(ok.config->anti_spoofing);
  EXPECT_EQ(ok.config->service_sides.size(), 2U) << "c is the default: not listed";
  EXPECT_EQ(ok.config->service_sides.at("a").server_interfaces,
            (std::vector<std::string>{"eth1", "bond0"}));
  EXPECT_FALSE(ok.config->service_sides.at("b").check);
}

/// Every warning as "LINE:COL: message", one per line.
std::string warnings(const LoadResult& r) {
  std::string s;
  for (const auto& d : r.warnings) {
    s += std::to_string(d.line) + ":" + std::to_string(d.column) + ": " + d.message + "\n";
  }
  return s;
}

TEST(ConfigValidation, RulesTableIsTheDeprecatedSpellingOfNftTable) {
  // The new spelling: loads, no warning.
  const auto now = load("rules: {nft_table: sg_new}\n");
  ASSERT_TRUE(now.ok()) << errors(now);
  EXPECT_EQ(now.config->nft_table, "sg_new");
  EXPECT_EQ(warnings(now), "");
  // The old spelling: loads to the same field, with one warning that names the new key.
  const auto old = load("queues: {count: 2}\nrules: {table: sg_old}\n");
  ASSERT_TRUE(old.ok()) << errors(old);
  EXPECT_EQ(old.config->nft_table, "sg_old");
  EXPECT_EQ(warnings(old),
            "2:16: rules.table is deprecated: use rules.nft_table (the same setting)\n");
  // Its value is checked as nft_table's is, under the name the file uses.
  const auto bad = load("rules: {table: \"a b\"}\n");
  EXPECT_EQ(errors(bad),
            "1:16: rules.table: 'a b' is not a table name: 1 to 32 letters, digits or '_'\n");
  EXPECT_EQ(warnings(bad),
            "1:16: rules.table is deprecated: use rules.nft_table (the same setting)\n");
  // Both spellings at once: which one counts would be a guess.
  const auto both = load("rules: {nft_table: a, table: b}\n");
  EXPECT_EQ(errors(both),
            "1:30: rules.table: the deprecated spelling of rules.nft_table, which is given too: "
            "keep only nft_table\n");
  // The top-level `table:` (the connection table) is not the nftables table: no warning.
  const auto conn = load("table: {capacity: 4096}\n");
  ASSERT_TRUE(conn.ok()) << errors(conn);
  EXPECT_EQ(warnings(conn), "");
  EXPECT_EQ(conn.config->nft_table, "synguard");
}

}  // namespace
}  // namespace synguard::config

namespace synguard::config {
namespace {

TEST(ConfigValidation, XdpInterfacesAndMode) {
  const auto r = load(R"(xdp:
  interfaces: [eth0, "a/b", eth0, 0123456789abcdef, "", {x: 1}]
  mode: fast
  extra: 1
)");
  EXPECT_EQ(errors(r),
            "2:22: xdp.interfaces[1]: 'a/b' is not an interface name: 1 to 15 letters, digits, "
            "'_', '-', '.' or '@'\n"
            "2:29: xdp.interfaces[2]: 'eth0' is already in the list\n"
            "2:35: xdp.interfaces[3]: '0123456789abcdef' is not an interface name: 1 to 15 "
            "letters, digits, '_', '-', '.' or '@'\n"
            "2:53: xdp.interfaces[4]: '' is not an interface name: 1 to 15 letters, digits, "
            "'_', '-', '.' or '@'\n"
            "2:57: xdp.interfaces[5]: expected a string, got a map\n"
            "3:9: xdp.mode: expected auto, native, generic or off, got 'fast'\n"
            "4:3: unknown key 'xdp.extra'\n");
  EXPECT_EQ(errors(load("xdp: {interfaces: eth0}\n")),
            "1:19: xdp.interfaces: expected a list of interface names, got 'eth0'\n");
  EXPECT_EQ(errors(load("xdp: [eth0]\n")), "1:6: xdp: expected a map of keys, got a list\n");
  EXPECT_EQ(errors(load("proxy:\n  handoff: kernel\n")),
            "2:12: proxy.handoff: expected off or conntrack, got 'kernel'\n");
  EXPECT_EQ(errors(load("xdp: {mode: native, mode: generic}\n")),
            "1:21: xdp.mode: duplicate key (only the first one would count)\n");
  std::string many = "xdp: {interfaces: [";
  for (int i = 0; i <= 32; ++i) {
    many += (i == 0 ? "" : ", ") + std::string("e") + std::to_string(i);
  }
  many += "]}\n";
  EXPECT_NE(errors(load(many)).find("xdp.interfaces[32]: more than 32 interfaces"),
            std::string::npos);

  // Empty or absent: no XDP; `off` keeps the list but turns it off.
  for (const char* text : {"xdp:\n", "xdp: {}\n", "xdp: {interfaces: []}\n",
                           "xdp: {interfaces: [eth0], mode: off}\n", "xdp: {interfaces:}\n"}) {
    const auto ok = load(text);
    ASSERT_TRUE(ok.ok()) << text << errors(ok);
    EXPECT_FALSE(ok.config->xdp.enabled()) << text;
  }
  const auto ok = load("xdp:\n  interfaces: [eth0, veth-c.10]\n  mode: native\n");
  ASSERT_TRUE(ok.ok()) << errors(ok);
  EXPECT_TRUE(ok.config->xdp.enabled());
  EXPECT_EQ(ok.config->xdp.interfaces, (std::vector<std::string>{"eth0", "veth-c.10"}));
  EXPECT_EQ(ok.config->xdp.mode, XdpMode::kNative);
  EXPECT_STREQ(toString(XdpMode::kGeneric), "generic");
}

}  // namespace
}  // namespace synguard::config
