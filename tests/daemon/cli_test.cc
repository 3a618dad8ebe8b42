// The command line as an operator types it: the built binary run with --print-rules (a dry
// run that needs no privileges) and check-config. The nftables table's name is --nft-table and
// rules.nft_table; the old spellings --table and rules.table still work, with one warning that
// names the new spelling.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace {

struct Outcome {
  int status = -1;
  std::string output;  ///< stdout and stderr together
};

/// Runs the synguard binary the build made with `args` (a shell word list).
Outcome synguard(const std::string& args) {
  const char* bin = std::getenv("SYNGUARD_BINARY");
  if (bin == nullptr) {
    return {};
  }
  Outcome r;
  const std::string cmd = std::string(bin) + " " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) {
    return r;
  }
  std::array<char, 4096> buf{};
  for (std::size_t n = 0; (n = std::fread(buf.data(), 1, buf.size(), p)) > 0;) {
    r.output.append(buf.data(), n);
  }
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

/// A configuration file with one service and `rules`, in the test's scratch directory.
std::string configFile(const std::string& name, const std::string& rules) {
  std::string path = ::testing::TempDir() + "synguard_cli_" + name + ".yaml";
  std::ofstream(path) << rules
                      << "services:\n  - {name: web, addresses: [192.0.2.1], ports: [80]}\n";
  return path;
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::getenv("SYNGUARD_BINARY") == nullptr) {
      GTEST_SKIP() << "SYNGUARD_BINARY is not set (run through ctest)";
    }
  }
};

constexpr const char* kDeprecatedFlag = "--table is deprecated: use --nft-table (the same option)";
constexpr const char* kDeprecatedKey =
    "rules.table is deprecated: use rules.nft_table (the same setting)";

TEST_F(Cli, NftTableNamesTheTable) {
  const Outcome r = synguard("run --protect 192.0.2.1:80 --nft-table sg_cli --print-rules");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("table inet sg_cli {"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("deprecated"), std::string::npos) << r.output;
}

TEST_F(Cli, TheOldTableFlagWorksAndWarnsOnce) {
  const Outcome r =
      synguard("run --protect 192.0.2.1:80 --table sg_one --table sg_old --print-rules");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("table inet sg_old {"), std::string::npos) << r.output;
  EXPECT_EQ(count(r.output, kDeprecatedFlag), 1U) << r.output;
  EXPECT_NE(r.output.find(std::string("<4>synguard: ") + kDeprecatedFlag), std::string::npos)
      << "a warning, in the journal's form: " << r.output;
}

TEST_F(Cli, TableSizeIsStillTheConnectionTable) {
  const Outcome r = synguard("run --protect 192.0.2.1:80 --table-size 4096 --print-rules");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("table inet synguard {"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("deprecated"), std::string::npos) << r.output;
}

TEST_F(Cli, NftTableInTheConfiguration) {
  const std::string path = configFile("new", "rules: {nft_table: sg_file}\n");
  const Outcome r = synguard("run --config " + path + " --print-rules");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("table inet sg_file {"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("deprecated"), std::string::npos) << r.output;
  // The command line wins over the file, as for every option.
  const Outcome over = synguard("run --config " + path + " --nft-table sg_cli --print-rules");
  EXPECT_NE(over.output.find("table inet sg_cli {"), std::string::npos) << over.output;
}

TEST_F(Cli, TheOldTableKeyWorksAndWarnsOnce) {
  const std::string path = configFile("old", "rules: {table: sg_file_old}\n");
  const Outcome r = synguard("run --config " + path + " --print-rules");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("table inet sg_file_old {"), std::string::npos) << r.output;
  EXPECT_EQ(count(r.output, kDeprecatedKey), 1U) << r.output;
  EXPECT_NE(r.output.find("<4>synguard: " + path + ":1:16: " + kDeprecatedKey), std::string::npos)
      << "a located warning: " << r.output;
  // check-config accepts the file and says so too.
  const Outcome check = synguard("check-config " + path);
  EXPECT_EQ(check.status, 0) << check.output;
  EXPECT_NE(check.output.find(path + ":1:16: " + kDeprecatedKey), std::string::npos)
      << check.output;
  EXPECT_NE(check.output.find(path + ": ok, 1 service(s)"), std::string::npos) << check.output;
}

TEST_F(Cli, CheckConfigWarnsAboutXdpInterfacesThatDoNotExist) {
  const std::string path =
      configFile("xdp", "xdp: {interfaces: [lo, sgnoexist0], mode: generic}\n");
  const Outcome check = synguard("check-config " + path);
  EXPECT_EQ(check.status, 0) << "a host fact is a warning: " << check.output;
  EXPECT_NE(check.output.find(path + ": warning: xdp.interfaces: 'sgnoexist0' does not exist on "
                                     "this host (the daemon attaches XDP when it appears)"),
            std::string::npos)
      << check.output;
  EXPECT_EQ(check.output.find("'lo'"), std::string::npos) << check.output;
  EXPECT_NE(check.output.find(path + ": ok, 1 service(s)"), std::string::npos) << check.output;
  // Turned off: nothing to check.
  const std::string off = configFile("xdp_off", "xdp: {interfaces: [sgnoexist0], mode: off}\n");
  EXPECT_EQ(synguard("check-config " + off).output.find("warning"), std::string::npos);
}

}  // namespace
