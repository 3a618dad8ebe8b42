#pragma once

#include <string>

#include "engine/result.h"

namespace synguard::daemon {

/// Becomes `user` (empty: stays who it is) and keeps exactly CAP_NET_ADMIN (queues, rules,
/// marks, XDP links) and CAP_NET_RAW (raw sockets), ambient too for the helpers it runs; with
/// `keep_bpf` also CAP_BPF (the XDP fast path: links attached again on reloads and when an
/// interface comes back), for this process only (not ambient: no helper needs it). Everything
/// else goes, CAP_PERFMON too: the XDP program, which needs it to load, is loaded before.
Result<void> dropPrivileges(const std::string& user, bool keep_bpf = false);

}  // namespace synguard::daemon
