#pragma once

#include <getopt.h>

#include <cstddef>
#include <functional>
#include <vector>

#include "engine/engine.h"

namespace synguard::daemon {

/// The text of `synguard help`, also printed after a usage error.
extern const char* const kUsage;

/// Every long option of the commands that take them, one id each. The protection options
/// (those that declare --protect services) come last, from kProtect on.
enum CliOption : int {
  // run
  kMonitor = 1,
  kQueues,
  kFirstQueue,
  kLocal,
  kKeyFile,
  kKeyRotation,
  kProxyCapacity,
  kNoZeroWindow,
  kMaxAckDelay,
  kNftTable,
  kDeprecatedTable,  // --table: --nft-table's old spelling, which read like --table-size's table
  kPrintRules,
  kStats,
  kUser,
  kHalfOpenTimeout,
  kNoBypass,
  kMetrics,
  kConfig,
  // replay
  kConnLog,
  kJson,
  kVerify,
  kNoPickup,
  kTop,
  kProgress,
  kNoProgress,
  kNoSplit,
  // tune (its --config is run's kConfig)
  kSensitivity,
  kAttack,
  kOut,
  kPrometheus,
  kSince,
  kStep,
  // replay and run
  kTableSize,
  kProtect = 1000,  // above every character getopt can return
  kMode,
  kHalfOpenOn,
  kHalfOpenOff,
  kSynRateOn,
  kSynRateOff,
  kHold,
  kSourceRate,
  kSourceHalfOpen,
  kOverload,
};

/// The commands an option belongs to (a bit each).
enum CliCommand : unsigned { kReplayCommand = 1, kRunCommand = 2, kTuneCommand = 4 };

bool parseSize(const char* s, std::size_t& out);

/// getopt_long's table for one command: its rows of the one option table, then the end row.
std::vector<option> longOptions(CliCommand command);

/// The options that declare protected services, shared by replay and run.
struct ProtectArgs {
  std::vector<engine::ServiceConfig> services;
  engine::ServiceConfig proto;  // thresholds and limits for every --protect

  /// 0: handled; 1: not a protection option; 2: bad value (reported).
  int handle(int c, const char* arg);
  /// Moves the --protect services, with the thresholds and limits given, into `pc`.
  void apply(engine::ProtectionConfig& pc);
};

/// What an option handler says besides an exit code: go on, or the option is not its own.
constexpr int kNextOption = -1;
constexpr int kNotOwn = -2;

/// Parses the options of `command` from the one table. Every option but --help goes to
/// `handle(id, arg)` first, which returns kNextOption, kNotOwn or an exit code; what it does
/// not own goes to `protect`, and an option neither knows prints the usage (exit 2). --help
/// prints it too (exit 0). Returns kNextOption when every option was taken (the operands start
/// at optind), else the exit code.
int parseOptions(CliCommand command, int argc, char** argv, ProtectArgs& protect,
                 const std::function<int(int, const char*)>& handle);

}  // namespace synguard::daemon
