#include "daemon/inline/log.h"

#include <algorithm>
#include <cstdio>

namespace synguard::daemon {

bool parseLogLevel(std::string_view s, LogLevel& out) noexcept {
  if (s == "error") {
    out = LogLevel::kError;
  } else if (s == "warning") {
    out = LogLevel::kWarning;
  } else if (s == "notice") {
    out = LogLevel::kNotice;
  } else if (s == "info") {
    out = LogLevel::kInfo;
  } else if (s == "debug") {
    out = LogLevel::kDebug;
  } else {
    return false;
  }
  return true;
}

void Logger::configure(const Options& o) {
  const std::lock_guard<std::mutex> lock(mutex_);
  opts_ = o;
  tokens_ = std::min(tokens_, static_cast<double>(o.burst));
}

std::uint64_t Logger::suppressed() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return suppressed_total_;
}

void Logger::log(LogLevel level, std::string_view msg) { logAt(level, msg, Clock::now()); }

void Logger::logAt(LogLevel level, std::string_view msg, Clock::time_point now) {
  const std::lock_guard<std::mutex> lock(mutex_);
  if (level != LogLevel::kError && static_cast<int>(level) > static_cast<int>(opts_.level)) {
    return;
  }
  if (!started_) {
    started_ = true;
    tokens_ = opts_.burst;
    last_ = now;
  }
  const double elapsed = std::chrono::duration<double>(now - last_).count();
  last_ = now;
  tokens_ = std::min(static_cast<double>(opts_.burst),
                     tokens_ + std::max(0.0, elapsed) * opts_.per_second);
  if (opts_.per_second > 0 && tokens_ < 1) {
    ++suppressed_;
    ++suppressed_total_;
    return;
  }
  if (suppressed_ > 0 && tokens_ >= 2) {
    tokens_ -= 1;
    write(LogLevel::kWarning, std::to_string(suppressed_) + " log lines suppressed (rate limit)");
    suppressed_ = 0;
  }
  tokens_ -= 1;
  write(level, msg);
}

void Logger::write(LogLevel level, std::string_view msg) {
  std::string line = "<" + std::to_string(static_cast<int>(level)) + ">synguard: ";
  line.append(msg);
  line += '\n';
  if (sink_ != nullptr) {
    *sink_ += line;
    return;
  }
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

Logger& logger() {
  static Logger l;
  return l;
}

}  // namespace synguard::daemon
