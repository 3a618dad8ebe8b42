#pragma once

#include <string>

#include "engine/result.h"

namespace synguard::daemon {

/// GET http://ADDR:PORT/metrics from the running daemon ("127.0.0.1:9815", "[::1]:9815").
Result<std::string> fetchMetrics(const std::string& listen);

/// The human view of `synguard status`: per service its mode, half-open count, SYN rate,
/// cookies, then the table, proxy, queue and verdict figures — from a Prometheus exposition.
std::string renderStatus(const std::string& exposition);

/// `synguard status`: one shot, or refreshed every second on a terminal until interrupted.
int runStatus(const std::string& listen, bool watch);

}  // namespace synguard::daemon
