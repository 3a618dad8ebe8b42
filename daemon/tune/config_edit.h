#pragma once
// The suggestion applied to the configuration as text (comments and layout kept), and the
// unified diff between the two texts.
#include <string>
#include <utility>
#include <vector>

#include "daemon/tune/analysis.h"

namespace synguard::tune {

/// Per service name, its suggested values.
using Suggestions = std::vector<std::pair<std::string, Suggestion>>;

/// Edits `text` (a synguard configuration): in each named service, the values of half_open,
/// syn_rate, hold and per_source (per_source only when the suggestion has per-source figures)
/// are replaced where they are written, and missing keys are inserted after the service's
/// `name:` line with its indentation. Positions come from yaml-cpp's marks of the nodes.
/// False with a reason when the text cannot be edited so (not YAML, a service written as a
/// one-line flow mapping).
bool editConfigText(const std::string& text, const Suggestions& suggestions, std::string& out,
                    std::string& error);

/// The unified diff (3 lines of context) from `before` to `after`, as `--- a/NAME` and
/// `+++ b/NAME`; empty when they are equal.
std::string unifiedDiff(const std::string& before, const std::string& after,
                        const std::string& name);

}  // namespace synguard::tune
