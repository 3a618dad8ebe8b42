#pragma once

#include <string>

#include "engine/result.h"

namespace synguard::daemon {

/// Becomes `user` (empty: stays who it is) and keeps exactly CAP_NET_ADMIN (queues, rules,
/// marks) and CAP_NET_RAW (raw sockets), ambient too for the helpers it runs.
Result<void> dropPrivileges(const std::string& user);

}  // namespace synguard::daemon
