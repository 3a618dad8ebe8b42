// parseDuration of prometheus_source.h: "14d", "36h", "90m", "600s", "600".
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "daemon/tune/prometheus_source.h"

namespace synguard::tune {

bool parseDuration(const std::string& text, double& seconds) {
  if (text.empty() || text[0] == '-' || text[0] == '+' || text[0] == ' ') {
    return false;
  }
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  if (errno != 0 || end == text.c_str() || !std::isfinite(v) || v <= 0) {
    return false;
  }
  const std::string unit(end);
  double scale = 0;
  if (unit.empty() || unit == "s") {
    scale = 1;
  } else if (unit == "m") {
    scale = 60;
  } else if (unit == "h") {
    scale = 3600;
  } else if (unit == "d") {
    scale = 86400;
  } else if (unit == "w") {
    scale = 7 * 86400;
  } else {
    return false;
  }
  seconds = v * scale;
  return true;
}

}  // namespace synguard::tune
