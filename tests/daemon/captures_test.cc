// Replays the real captures in tests/data (how each was made: tests/data/README.md) and checks
// every connection's outcome and states, and the half-open figures.
#include <gtest/gtest.h>
#include <unistd.h>

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

struct Row {
  std::map<std::string, std::string> f;
  const std::string& operator[](const std::string& k) const { return f.at(k); }
};

struct Replayed {
  std::vector<Row> rows;
  std::string json;
  int rc = 0;
};

fs::path dataDir() {
  const char* src = std::getenv("SYNGUARD_SOURCE_DIR");
  return (src != nullptr ? fs::path(src) : fs::current_path()) / "tests" / "data";
}

Replayed replay(const std::string& name) {
  Replayed r;
  // Per process: other checkouts' test runs on this machine replay the same captures.
  const fs::path log = fs::temp_directory_path() /
                       ("synguard-cap-" + std::to_string(getpid()) + "-" + name + ".log");
  ReplayOptions opts;
  opts.captures = {(dataDir() / name).string()};
  opts.conn_log = log.string();
  opts.json = true;
  std::ostringstream out;
  std::ostringstream err;
  r.rc = runReplay(opts, out, err);
  r.json = out.str();
  std::ifstream in(log);
  std::string line;
  std::vector<std::string> cols;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string x;
    while (std::getline(ss, x, '\t')) {
      f.push_back(x);
    }
    if (!f.empty() && f[0] == "#fields") {
      cols.assign(f.begin() + 1, f.end());
      continue;
    }
    if (line.empty() || line[0] == '#') {
      continue;
    }
    Row row;
    for (std::size_t i = 0; i < cols.size() && i < f.size(); ++i) {
      row.f[cols[i]] = f[i];
    }
    r.rows.push_back(row);
  }
  fs::remove(log);
  return r;
}

/// "key": number from the JSON summary (first occurrence after `section`).
long jsonNumber(const std::string& json, const std::string& section, const std::string& key) {
  const auto s = json.find("\"" + section + "\"");
  const auto k = json.find("\"" + key + "\": ", s);
  if (s == std::string::npos || k == std::string::npos) {
    return -1;
  }
  return std::stol(json.substr(k + key.size() + 4));
}

/// The JSON object that follows "key": (brace-matched), or "" when absent.
std::string jsonObject(const std::string& json, const std::string& key) {
  const auto k = json.find("\"" + key + "\": {");
  if (k == std::string::npos) {
    return "";
  }
  const auto start = json.find('{', k);
  int depth = 0;
  for (auto i = start; i < json.size(); ++i) {
    depth += json[i] == '{' ? 1 : json[i] == '}' ? -1 : 0;
    if (depth == 0) {
      return json.substr(start, i - start + 1);
    }
  }
  return "";
}

std::map<std::string, int> count(const std::vector<Row>& rows, const std::string& col) {
  std::map<std::string, int> m;
  for (const auto& r : rows) {
    ++m[r[col]];
  }
  return m;
}

using Counts = std::map<std::string, int>;

TEST(Captures, NoAnswerIsAnUnansweredAttempt) {
  const auto r = replay("syn_no_answer.pcap");
  ASSERT_EQ(r.rc, 0);
  ASSERT_EQ(r.rows.size(), 1U);
  EXPECT_EQ(r.rows[0]["conn_state"], "S0");
  EXPECT_EQ(r.rows[0]["state"], "SYN_SENT");
  EXPECT_GE(std::stoi(r.rows[0]["orig_pkts"]), 2);  // SYN and its retransmissions
  EXPECT_EQ(r.rows[0]["resp_pkts"], "0");
  EXPECT_EQ(jsonNumber(r.json, "half_open", "peak"), 1);
  EXPECT_EQ(jsonNumber(r.json, "half_open", "current"), 1);
}

TEST(Captures, HandshakeAndCloseEndInTimeWait) {
  const auto r = replay("handshake_and_close.pcap");
  ASSERT_EQ(r.rc, 0);
  EXPECT_EQ(count(r.rows, "conn_state"), (Counts{{"SF", 5}}));
  EXPECT_EQ(count(r.rows, "state"), (Counts{{"TIME_WAIT", 5}}));
  EXPECT_EQ(count(r.rows, "orig_state"), (Counts{{"TIME_WAIT", 5}}));
  EXPECT_EQ(count(r.rows, "resp_state"), (Counts{{"CLOSED", 5}}));
  EXPECT_EQ(jsonNumber(r.json, "half_open", "current"), 0);
  EXPECT_EQ(jsonObject(r.json, "verdicts").find("invalid"), std::string::npos) << r.json;
}

TEST(Captures, RefusedConnectionsAreRej) {
  const auto r = replay("rst_refused.pcap");
  EXPECT_EQ(count(r.rows, "conn_state"), (Counts{{"REJ", 3}}));
  EXPECT_EQ(count(r.rows, "state"), (Counts{{"CLOSED", 3}}));
  EXPECT_EQ(jsonNumber(r.json, "half_open", "peak"), 1);
  EXPECT_EQ(jsonNumber(r.json, "half_open", "current"), 0);
}

TEST(Captures, AbortsAreResetsFromTheRightSide) {
  const auto client = replay("rst_abort.pcap");
  EXPECT_EQ(count(client.rows, "conn_state"), (Counts{{"RSTO", 2}}));
  EXPECT_EQ(count(client.rows, "state"), (Counts{{"CLOSED", 2}}));
  const auto server = replay("server_abort.pcap");
  EXPECT_EQ(count(server.rows, "conn_state"), (Counts{{"RSTR", 2}}));
  EXPECT_EQ(count(server.rows, "state"), (Counts{{"CLOSED", 2}}));
}

TEST(Captures, HalfCloseKeepsDataFlowingFromCloseWait) {
  const auto r = replay("half_close.pcap");
  EXPECT_EQ(count(r.rows, "conn_state"), (Counts{{"SF", 2}}));
  EXPECT_EQ(count(r.rows, "state"), (Counts{{"TIME_WAIT", 2}}));
  // Every data segment the CLOSE-WAIT side sent was in window and in state.
  EXPECT_EQ(jsonObject(r.json, "verdicts").find("invalid"), std::string::npos) << r.json;
  EXPECT_EQ(jsonObject(r.json, "invalid"), "{}");
  EXPECT_EQ(jsonNumber(r.json, "accept", "tracked"), jsonNumber(r.json, "packets", "total"));
}

TEST(Captures, SimultaneousCloseLeavesBothEndpointsInTimeWait) {
  const auto r = replay("simultaneous_close.pcap");
  EXPECT_EQ(count(r.rows, "conn_state"), (Counts{{"SF", 5}}));
  EXPECT_EQ(count(r.rows, "orig_state"), (Counts{{"TIME_WAIT", 5}}));
  EXPECT_EQ(count(r.rows, "resp_state"), (Counts{{"TIME_WAIT", 5}}));
}

TEST(Captures, Ipv6ConnectionsAreTracked) {
  const auto r = replay("ipv6_connections.pcap");
  EXPECT_EQ(count(r.rows, "conn_state"), (Counts{{"SF", 3}}));
  EXPECT_EQ(count(r.rows, "state"), (Counts{{"TIME_WAIT", 3}}));
  for (const auto& row : r.rows) {
    EXPECT_EQ(row["resp_h"], "2001:db8:5::10");
  }
}

TEST(Captures, SynFloodFillsTheHalfOpenCounters) {
  const auto r = replay("syn_flood.pcap");
  ASSERT_EQ(r.rc, 0);
  int legit_sf = 0;
  int flood = 0;
  int flood_answered = 0;
  for (const auto& row : r.rows) {
    if (row["orig_h"] == "192.0.2.10") {
      legit_sf += row["conn_state"] == "SF" ? 1 : 0;
      continue;
    }
    ASSERT_EQ(row["orig_h"].rfind("203.0.113.", 0), 0U) << row["orig_h"];
    ++flood;
    if (row["conn_state"] == "S1") {
      EXPECT_EQ(row["state"], "SYN_RECEIVED");
      ++flood_answered;
    } else {
      EXPECT_EQ(row["conn_state"], "S0");
      EXPECT_EQ(row["state"], "SYN_SENT");
    }
  }
  EXPECT_EQ(legit_sf, 2);
  EXPECT_EQ(flood, 2000);
  // The server (no SYN cookies) answers at most its backlog.
  EXPECT_GT(flood_answered, 0);
  EXPECT_LE(flood_answered, 17);
  EXPECT_EQ(jsonNumber(r.json, "half_open", "peak"), 2000);
  EXPECT_EQ(jsonNumber(r.json, "top_services", "half_open_peak"), 2000);
  EXPECT_NE(r.json.find("\"prefix\": \"203.0.113.0/24\", \"half_open_peak\": 2000"),
            std::string::npos);
}

}  // namespace
}  // namespace synguard::replay
