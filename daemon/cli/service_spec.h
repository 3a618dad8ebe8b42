#pragma once

#include <string_view>

#include "engine/protect/protection.h"
#include "engine/result.h"

namespace synguard::daemon {

/// Parses a service from the command line (`synguard replay --protect`):
///
///     [NAME=]PREFIX[,PREFIX...]:PORT[-PORT][,PORT[-PORT]...]
///
/// e.g. `web=198.51.100.0/24,2001:db8:5::/64:80,443,8000-8100`. IPv6 prefixes contain colons:
/// the port list is what follows the last colon. Thresholds and mode come from the defaults;
/// the caller adjusts them.
Result<engine::ServiceConfig> parseServiceSpec(std::string_view spec);

}  // namespace synguard::daemon
