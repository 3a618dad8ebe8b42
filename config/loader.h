#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace synguard::config {

/// One problem in a configuration file, located at the offending node.
struct Diagnostic {
  std::string file;
  int line = 0;    ///< 1-based; 0 when the problem is the file itself (unreadable)
  int column = 0;  ///< 1-based; 0 with line 0
  std::string message;
  /// "FILE:LINE:COL: message", as compilers and nft print them.
  std::string toString() const;
};

/// A loaded configuration, or every problem found (all of them, not just the first); never
/// both, never neither. (Not Result<DaemonConfig, std::vector<Diagnostic>>: the callers want
/// the list whole, and this reads better at them than `.error()` of a vector.)
struct LoadResult {
  std::optional<DaemonConfig> config;
  std::vector<Diagnostic> errors;  ///< sorted by line and column
  /// Deprecated spellings the file uses (`rules.table`): it loads as the new spelling would,
  /// but should be changed. Sorted by line and column; may come with or without errors.
  std::vector<Diagnostic> warnings;
  bool ok() const noexcept { return config.has_value(); }
};

/// Parses and validates YAML text; `name` is the file name in diagnostics and `source_path`.
/// An empty text (or only comments) gives defaultConfig(). Never throws for any input.
LoadResult loadConfigString(std::string_view yaml, std::string_view name);

/// Reads and validates a file. An unreadable file is one diagnostic at line 0; an empty one, or
/// one with only comments, is an error too: the built-in defaults are for no file at all, and
/// an empty file is more likely a truncated write than a wish for them.
LoadResult loadConfigFile(const std::string& path);

/// Durations as the file writes them: "500ms", "30s", "2m", "1h", "5d", or a plain number of
/// seconds. nullopt if malformed, negative, fractional or beyond what milliseconds can hold.
std::optional<std::chrono::milliseconds> parseDuration(std::string_view text);

}  // namespace synguard::config
