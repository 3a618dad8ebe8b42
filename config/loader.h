#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace synguard::config {

/// One problem in a configuration file, located at the offending node.
struct Diagnostic {
  std::string file;
  int line = 0;    ///< 1-based
  int column = 0;  ///< 1-based
  std::string message;
  /// "FILE:LINE:COL: message", as compilers and nft print them.
  std::string toString() const;
};

/// A loaded configuration, or every problem found (all of them, not just the first).
struct LoadResult {
  std::optional<DaemonConfig> config;
  std::vector<Diagnostic> errors;
  bool ok() const noexcept { return config.has_value(); }
};

/// Parses and validates YAML text; `name` is used in diagnostics.
LoadResult loadConfigString(std::string_view yaml, const std::string& name);

/// Reads and validates a file (an unreadable file is one diagnostic at line 0; an empty one, or
/// one with only comments, is an error too: the built-in defaults are for no file at all).
LoadResult loadConfigFile(const std::string& path);

/// Durations as the file writes them: "500ms", "30s", "2m", "1h", "5d", or a plain number of
/// seconds. nullopt if malformed or negative.
std::optional<std::chrono::milliseconds> parseDuration(std::string_view text);

}  // namespace synguard::config
