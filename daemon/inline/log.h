#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

namespace synguard::daemon {

/// syslog priorities, as sd-daemon(3) prefixes expect them ("<3>message").
enum class LogLevel : int { kError = 3, kWarning = 4, kNotice = 5, kInfo = 6, kDebug = 7 };

/// Parses "error", "warning", "notice", "info", "debug".
bool parseLogLevel(std::string_view s, LogLevel& out) noexcept;

/// One line per event on stderr in journald's form ("<6>synguard: ..."), filtered by level and
/// rate-limited by a token bucket so a flood cannot flood the journal: lines over the budget
/// are counted and summarised ("<4>synguard: 1234 log lines suppressed") once the bucket
/// refills. Errors count against the same budget but are never filtered by level.
/// Thread-safe.
class Logger {
 public:
  struct Options {
    LogLevel level = LogLevel::kInfo;
    double per_second = 10;
    std::uint32_t burst = 50;
  };
  void configure(const Options& o);
  void log(LogLevel level, std::string_view msg);
  std::uint64_t suppressed() const;

  /// For tests: where lines go (default stderr) and the time source.
  using Clock = std::chrono::steady_clock;
  void setSinkForTest(std::string* sink) { sink_ = sink; }
  void logAt(LogLevel level, std::string_view msg, Clock::time_point now);

 private:
  void write(LogLevel level, std::string_view msg);
  mutable std::mutex mutex_;
  Options opts_;
  double tokens_ = 50;
  Clock::time_point last_{};
  bool started_ = false;
  std::uint64_t suppressed_ = 0;        ///< since the last summary
  std::uint64_t suppressed_total_ = 0;  ///< ever
  std::string* sink_ = nullptr;
};

/// The process's logger.
Logger& logger();
/// One line at `level` on the process's logger. Takes the enum, not a number, so every call
/// says its level by name.
inline void logLine(LogLevel level, const std::string& msg) { logger().log(level, msg); }

}  // namespace synguard::daemon
