#include "engine/track/tcp_state.h"

#include <gtest/gtest.h>

#include <set>
#include <tuple>
#include <vector>

namespace synguard::engine {
namespace {

constexpr TcpState kAll[] = {TcpState::kClosed,      TcpState::kListen,      TcpState::kSynSent,
                             TcpState::kSynReceived, TcpState::kEstablished, TcpState::kFinWait1,
                             TcpState::kFinWait2,    TcpState::kCloseWait,   TcpState::kClosing,
                             TcpState::kLastAck,     TcpState::kTimeWait};
constexpr TcpEvent kEvents[] = {TcpEvent::kSyn,      TcpEvent::kSynAck, TcpEvent::kAck,
                                TcpEvent::kAckOfFin, TcpEvent::kFin,    TcpEvent::kFinAckOfFin,
                                TcpEvent::kRst,      TcpEvent::kNone};

// Every cell of the table, with the value RFC 9293 §3.3.2 / §3.10.7 leads to. I = invalid,
// G = ignore. Rows are events, columns states in TcpState order.
struct Expect {
  Role role;
  TcpEvent event;
  const char* cells;  // 11 codes separated by spaces
};

TcpState decode(const std::string& c) {
  static const std::vector<std::pair<std::string, TcpState>> kCodes = {
      {"CL", TcpState::kClosed},      {"LI", TcpState::kListen},      {"SS", TcpState::kSynSent},
      {"SR", TcpState::kSynReceived}, {"ES", TcpState::kEstablished}, {"F1", TcpState::kFinWait1},
      {"F2", TcpState::kFinWait2},    {"CW", TcpState::kCloseWait},   {"CG", TcpState::kClosing},
      {"LA", TcpState::kLastAck},     {"TW", TcpState::kTimeWait},    {"IV", TcpState::kInvalid},
      {"IG", TcpState::kIgnore}};
  for (const auto& [k, v] : kCodes) {
    if (k == c) {
      return v;
    }
  }
  ADD_FAILURE() << "bad code " << c;
  return TcpState::kInvalid;
}

TEST(TransitionTable, EveryCellMatchesTheRfcWalk) {
  const Expect kTable[] = {
      //                                      CL LI SS SR ES F1 F2 CW CG LA TW
      {Role::kSender, TcpEvent::kSyn, /*        */ "SS SS SS SR IG IG IG IG IG IG IG"},
      {Role::kSender, TcpEvent::kSynAck, /*     */ "IV SR IV SR ES IG IG IG IG IG IG"},
      {Role::kSender, TcpEvent::kAck, /*        */ "IG IV IV SR ES F1 F2 CW CG LA TW"},
      {Role::kSender, TcpEvent::kAckOfFin, /*   */ "IG IV IV IV IV IV IV CW CG LA TW"},
      {Role::kSender, TcpEvent::kFin, /*        */ "IG IV IV F1 F1 F1 F2 CG CG LA TW"},
      {Role::kSender, TcpEvent::kFinAckOfFin, /**/ "IG IV IV IV IV IV IV LA CG LA TW"},
      {Role::kSender, TcpEvent::kRst, /*        */ "CL LI CL CL CL CL CL CL CL CL CL"},
      {Role::kSender, TcpEvent::kNone, /*       */ "IV IV IV IV IV IV IV IV IV IV IV"},
      {Role::kReceiver, TcpEvent::kSyn, /*      */ "IG SR SR SR IG IG IG IG IG IG IG"},
      {Role::kReceiver, TcpEvent::kSynAck, /*   */ "IG IG ES ES IG IG IG IG IG IG IG"},
      {Role::kReceiver, TcpEvent::kAck, /*      */ "IG IG IG ES ES F1 F2 CW CG LA TW"},
      {Role::kReceiver, TcpEvent::kAckOfFin, /* */ "IV IV IV IV IV F2 F2 IV TW CL TW"},
      {Role::kReceiver, TcpEvent::kFin, /*      */ "IG IG IG CW CW CG TW CW CG LA TW"},
      {Role::kReceiver, TcpEvent::kFinAckOfFin, "IV IV IV IV IV TW TW IV TW CL TW"},
      {Role::kReceiver, TcpEvent::kRst, /*      */ "CL LI CL CL CL CL CL CL CL CL CL"},
      {Role::kReceiver, TcpEvent::kNone, /*     */ "IV IV IV IV IV IV IV IV IV IV IV"},
  };
  std::set<std::tuple<int, int, int>> walked;
  for (const Expect& row : kTable) {
    std::vector<std::string> codes;
    std::string cells = row.cells;
    for (std::size_t pos = 0; pos < cells.size(); pos += 3) {
      codes.push_back(cells.substr(pos, 2));
    }
    ASSERT_EQ(codes.size(), kTcpStateCount) << toString(row.event);
    for (std::size_t s = 0; s < kTcpStateCount; ++s) {
      EXPECT_EQ(nextState(row.role, row.event, kAll[s]), decode(codes[s]))
          << (row.role == Role::kSender ? "sender " : "receiver ") << toString(row.event) << " in "
          << toString(kAll[s]);
      walked.emplace(static_cast<int>(row.role), static_cast<int>(row.event), static_cast<int>(s));
    }
  }
  EXPECT_EQ(walked.size(), 2 * kTcpEventCount * kTcpStateCount);
}

TEST(TransitionTable, TheCountsFollowTheEnums) {
  // The test's own lists are written by hand; the engine's counts and kTcpStates are derived.
  EXPECT_EQ(kTcpStateCount, std::size(kAll));
  EXPECT_EQ(kTcpEventCount, std::size(kEvents));
  ASSERT_EQ(kTcpStates.size(), std::size(kAll));
  for (std::size_t i = 0; i < kTcpStates.size(); ++i) {
    EXPECT_EQ(kTcpStates[i], kAll[i]);
    EXPECT_EQ(index(kAll[i]), i);
    EXPECT_TRUE(isRealState(kTcpStates[i]));
  }
  EXPECT_FALSE(isRealState(TcpState::kInvalid));
  EXPECT_FALSE(isRealState(TcpState::kIgnore));
  EXPECT_GE(index(TcpState::kInvalid), kTcpStateCount);
  EXPECT_GE(index(TcpState::kIgnore), kTcpStateCount);
}

TEST(TransitionTable, SentinelStatesHaveNoTransitions) {
  for (TcpEvent e : kEvents) {
    EXPECT_EQ(nextState(Role::kSender, e, TcpState::kInvalid), TcpState::kInvalid);
    EXPECT_EQ(nextState(Role::kReceiver, e, TcpState::kIgnore), TcpState::kInvalid);
  }
}

TEST(ConnectionState, FoldsEndpointViewsAsConntrackWould) {
  // Handshake.
  EXPECT_EQ(connectionState(TcpState::kSynSent, TcpState::kSynReceived), TcpState::kSynSent);
  EXPECT_EQ(connectionState(TcpState::kEstablished, TcpState::kSynReceived),
            TcpState::kSynReceived);
  EXPECT_EQ(connectionState(TcpState::kSynReceived, TcpState::kSynReceived),
            TcpState::kSynReceived);
  EXPECT_EQ(connectionState(TcpState::kEstablished, TcpState::kEstablished),
            TcpState::kEstablished);
  // Close, from either side.
  EXPECT_EQ(connectionState(TcpState::kFinWait1, TcpState::kCloseWait), TcpState::kFinWait1);
  EXPECT_EQ(connectionState(TcpState::kCloseWait, TcpState::kFinWait1), TcpState::kFinWait1);
  EXPECT_EQ(connectionState(TcpState::kFinWait2, TcpState::kCloseWait), TcpState::kCloseWait);
  EXPECT_EQ(connectionState(TcpState::kTimeWait, TcpState::kLastAck), TcpState::kLastAck);
  EXPECT_EQ(connectionState(TcpState::kTimeWait, TcpState::kClosed), TcpState::kTimeWait);
  EXPECT_EQ(connectionState(TcpState::kClosing, TcpState::kClosing), TcpState::kClosing);
  EXPECT_EQ(connectionState(TcpState::kClosed, TcpState::kClosed), TcpState::kClosed);
}

TEST(ConnectionState, PredicatesCoverEveryState) {
  int half_open = 0;
  int closing = 0;
  for (TcpState s : kAll) {
    EXPECT_TRUE(isRealState(s));
    half_open += isHalfOpen(s) ? 1 : 0;
    closing += isClosing(s) ? 1 : 0;
    EXPECT_FALSE(isHalfOpen(s) && isClosing(s)) << toString(s);
    EXPECT_NE(toString(s), "?");
  }
  EXPECT_EQ(half_open, 2);
  EXPECT_EQ(closing, 7);
  EXPECT_FALSE(isRealState(TcpState::kInvalid));
  EXPECT_FALSE(isRealState(TcpState::kIgnore));
}

}  // namespace
}  // namespace synguard::engine
