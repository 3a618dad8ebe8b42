// External oracle: Zeek's own test traces with the conn.log baselines Zeek produced for them
// (../shared/oracle/zeek beside the repository; never copied into it). Every TCP connection's
// conn_state from `synguard replay` must agree with Zeek's on at least 99% of connections,
// matched by unordered 5-tuple (a reused tuple compares as a multiset).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/replay/replay.h"

namespace synguard::replay {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream is(s);
  while (std::getline(is, cur, sep)) {
    out.push_back(cur);
  }
  return out;
}

std::string tupleKey(const std::string& a, const std::string& ap, const std::string& b,
                     const std::string& bp) {
  std::string x = a + "|" + ap;
  std::string y = b + "|" + bp;
  return x < y ? x + "<>" + y : y + "<>" + x;
}

/// Reads a TSV log with a "#fields" header: tuple -> sorted list of conn_state.
std::map<std::string, std::vector<std::string>> readLog(const fs::path& p, bool zeek) {
  std::map<std::string, std::vector<std::string>> out;
  std::ifstream in(p);
  std::string line;
  std::map<std::string, std::size_t> col;
  while (std::getline(in, line)) {
    if (line.rfind("#fields", 0) == 0) {
      const auto f = split(line, '\t');
      for (std::size_t i = 1; i < f.size(); ++i) {
        col[f[i]] = i - 1;
      }
      continue;
    }
    if (line.empty() || line[0] == '#' || col.empty()) {
      continue;
    }
    const auto f = split(line, '\t');
    const auto get = [&](const char* name) -> std::string {
      const auto it = col.find(name);
      return it == col.end() || it->second >= f.size() ? "" : f[it->second];
    };
    if (zeek && get("proto") != "tcp") {
      continue;
    }
    const std::string k =
        zeek ? tupleKey(get("id.orig_h"), get("id.orig_p"), get("id.resp_h"), get("id.resp_p"))
             : tupleKey(get("orig_h"), get("orig_p"), get("resp_h"), get("resp_p"));
    out[k].push_back(get("conn_state"));
  }
  for (auto& [k, v] : out) {
    std::sort(v.begin(), v.end());
  }
  return out;
}

fs::path oracleDir() {
  const char* src = std::getenv("SYNGUARD_SOURCE_DIR");
  const fs::path base = src != nullptr ? fs::path(src) : fs::current_path();
  return base / ".." / "shared" / "oracle" / "zeek";
}

struct Tally {
  std::size_t total = 0;
  std::size_t agree = 0;
  std::vector<std::string> disagreements;
};

Tally compareManifest(const fs::path& dir, const std::string& manifest) {
  Tally t;
  std::ifstream in(dir / manifest);
  std::string line;
  std::getline(in, line);
  const auto header = split(line, '\t');
  const auto idx = [&](const char* name) {
    return static_cast<std::size_t>(std::find(header.begin(), header.end(), name) - header.begin());
  };
  const std::size_t i_name = idx("name");
  const std::size_t i_pcap = idx("pcap");
  const std::size_t i_base = idx("baseline");
  const fs::path tmp = fs::temp_directory_path() / ("synguard-oracle-" + std::to_string(getpid()));
  fs::create_directories(tmp);
  while (std::getline(in, line)) {
    const auto f = split(line, '\t');
    if (f.size() <= std::max({i_name, i_pcap, i_base})) {
      continue;
    }
    ReplayOptions opts;
    opts.captures = {(dir / f[i_pcap]).string()};
    opts.conn_log = (tmp / (f[i_name] + ".log")).string();
    opts.json = true;
    std::ostringstream out;
    std::ostringstream err;
    const int rc = runReplay(opts, out, err);
    EXPECT_EQ(rc, 0) << f[i_name] << ": " << err.str();
    auto expected = readLog(dir / f[i_base], true);
    auto got = readLog(opts.conn_log, false);
    for (auto& [k, want] : expected) {
      std::vector<std::string> have = got[k];
      t.total += want.size();
      // Multiset agreement for reused tuples.
      std::vector<std::string> common;
      std::set_intersection(want.begin(), want.end(), have.begin(), have.end(),
                            std::back_inserter(common));
      t.agree += common.size();
      if (common.size() != want.size()) {
        std::string w;
        std::string h;
        for (const auto& s : want) {
          w += s + " ";
        }
        for (const auto& s : have) {
          h += s + " ";
        }
        t.disagreements.push_back(f[i_name] + " " + k + ": zeek " + w + "synguard " +
                                  (h.empty() ? "(none) " : h));
      }
    }
  }
  fs::remove_all(tmp);
  return t;
}

TEST(ZeekOracle, ConnStateAgreesOnAtLeast99PercentOfTcpConnections) {
  const fs::path dir = oracleDir();
  if (!fs::exists(dir / "manifest.tsv")) {
    GTEST_SKIP() << "oracle not present at " << dir;
  }
  const Tally t = compareManifest(dir, "manifest.tsv");
  for (const auto& d : t.disagreements) {
    std::printf("disagreement: %s\n", d.c_str());
  }
  std::printf("zeek oracle: %zu of %zu TCP connections agree (%.2f%%)\n", t.agree, t.total,
              t.total ? 100.0 * static_cast<double>(t.agree) / static_cast<double>(t.total) : 0);
  ASSERT_GT(t.total, 100U);
  EXPECT_GE(static_cast<double>(t.agree), 0.99 * static_cast<double>(t.total));
}

}  // namespace
}  // namespace synguard::replay
