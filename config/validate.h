#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "config/config.h"
#include "config/loader.h"

namespace synguard::config {

/// The schema (internal to synguard::config; callers use config/loader.h). Walks a parsed
/// document key by key and writes every valid value into `out`, which holds the defaults on
/// entry; returns every problem found, each located at its node (1-based), in document order.
/// `out` is meaningful only when nothing is returned. Deprecated spellings, which still load,
/// are appended to `warnings`, located and ordered the same way. A null `root` (an empty document)
/// is valid and leaves `out` alone. yaml-cpp may throw YAML::Exception from here; the loader
/// catches it (STYLE.md: only config/loader.cc catches it).
std::vector<Diagnostic> validateDocument(const YAML::Node& root, const std::string& file,
                                         DaemonConfig& out, std::vector<Diagnostic>& warnings);

}  // namespace synguard::config
