#include "daemon/cli/status.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <map>
#include <span>
#include <sstream>
#include <string_view>
#include <thread>
#include <vector>

#include "engine/stats.h"

namespace synguard::daemon {

namespace {

struct Sample {
  std::map<std::string, std::string> labels;
  double value = 0;
};

/// name -> samples, from the text format (comments skipped; labels parsed with escapes).
std::map<std::string, std::vector<Sample>> parseExposition(const std::string& text) {
  std::map<std::string, std::vector<Sample>> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') {
      ++i;
    }
    const std::string name = line.substr(0, i);
    Sample s;
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        const std::size_t eq = line.find('=', i);
        if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"') {
          break;
        }
        std::string key = line.substr(i, eq - i);
        std::string val;
        std::size_t j = eq + 2;
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\' && j + 1 < line.size()) {
            ++j;
          }
          val += line[j];
        }
        s.labels[key] = val;
        i = j + 1;
        if (i < line.size() && line[i] == ',') {
          ++i;
        }
      }
      ++i;  // '}'
    }
    try {
      s.value = std::stod(line.substr(i));
    } catch (...) {  // NOLINT(bugprone-empty-catch): a line we do not understand is skipped
      continue;
    }
    out[name].push_back(std::move(s));
  }
  return out;
}

std::string num(double v) {
  std::ostringstream os;
  if (v >= 1e9) {
    os << std::fixed << std::setprecision(1) << v / 1e9 << "G";
  } else if (v >= 1e6) {
    os << std::fixed << std::setprecision(1) << v / 1e6 << "M";
  } else if (v >= 1e4) {
    os << std::fixed << std::setprecision(1) << v / 1e3 << "k";
  } else {
    os << std::llround(v);
  }
  return os.str();
}

}  // namespace

Result<std::string> fetchMetrics(const std::string& listen) {
  std::string host = listen;
  std::string port = "9815";
  if (const auto colon = listen.rfind(':'); colon != std::string::npos) {
    host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return Unexpected{Error{"status: " + listen + ": " + ::gai_strerror(rc)}};
  }
  const int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const bool connected = fd >= 0 && ::connect(fd, res->ai_addr, res->ai_addrlen) == 0;
  ::freeaddrinfo(res);
  if (!connected) {
    if (fd >= 0) {
      ::close(fd);
    }
    return Unexpected{Error{"status: no synguard metrics endpoint at " + listen +
                            " (is the daemon running, with metrics on?)"}};
  }
  const std::string req = "GET /metrics HTTP/1.0\r\nHost: " + host + "\r\n\r\n";
  (void)::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string body;
  char buf[8192];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 1000) <= 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        break;
      }
      continue;
    }
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      break;
    }
    body.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  const auto head_end = body.find("\r\n\r\n");
  if (body.rfind("HTTP/1.", 0) != 0 || head_end == std::string::npos ||
      body.find(" 200 ") > body.find("\r\n")) {
    return Unexpected{Error{"status: unexpected answer from " + listen}};
  }
  return body.substr(head_end + 4);
}

namespace {

using Exposition = std::map<std::string, std::vector<Sample>>;

/// The sum of a metric's samples that carry every label in `want`.
double sumOf(const Exposition& m, const std::string& name,
             const std::map<std::string, std::string>& want = {}) {
  double sum = 0;
  const auto it = m.find(name);
  if (it == m.end()) {
    return sum;
  }
  for (const Sample& s : it->second) {
    bool match = true;
    for (const auto& [k, v] : want) {
      const auto l = s.labels.find(k);
      match = match && l != s.labels.end() && l->second == v;
    }
    if (match) {
      sum += s.value;
    }
  }
  return sum;
}

/// One row per service: its mode, half-open count, rates and cookies.
void statusServices(const Exposition& m, std::ostringstream& os) {
  const auto value = [&m](const std::string& name,
                          const std::map<std::string, std::string>& want = {}) {
    return sumOf(m, name, want);
  };
  os << std::left << std::setw(20) << "SERVICE" << std::setw(8) << "MODE" << std::right
     << std::setw(10) << "HALF-OPEN" << std::setw(10) << "PEAK" << std::setw(10) << "SYN/s"
     << std::setw(10) << "SYNS" << std::setw(10) << "COOKIES" << std::setw(10) << "VALID"
     << std::setw(8) << "FLIPS"
     << "\n";
  if (const auto it = m.find("synguard_service_half_open_connections"); it != m.end()) {
    for (const Sample& s : it->second) {
      const auto nit = s.labels.find("service");
      if (nit == s.labels.end()) {
        continue;
      }
      const std::map<std::string, std::string> l = {{"service", nit->second}};
      const bool cookie =
          value("synguard_service_mode", {{"service", nit->second}, {"mode", "cookie"}}) > 0;
      os << std::left << std::setw(20) << nit->second << std::setw(8)
         << (cookie ? "COOKIE" : "normal") << std::right << std::setw(10) << num(s.value)
         << std::setw(10) << num(value("synguard_service_half_open_peak_connections", l))
         << std::setw(10) << num(value("synguard_service_syn_rate", l)) << std::setw(10)
         << num(value("synguard_service_syns_received_total", l)) << std::setw(10)
         << num(value("synguard_cookies_sent_total", l)) << std::setw(10)
         << num(value("synguard_cookies_validated_total", l)) << std::setw(8)
         << num(value("synguard_service_mode_transitions_total", l)) << "\n";
    }
  }
}

/// Every engine counter the exporter takes from the description (engine/stats.h,
/// forEachCounter) that is not zero, its labels summed: a new counter shows here by itself.
void statusOtherCounters(const Exposition& m, std::ostringstream& os) {
  std::ostringstream other;
  const engine::EngineStats names_only;
  engine::forEachCounter(
      names_only, [&](const engine::CounterInfo& c, std::span<const std::uint64_t>) {
        if (c.metric.empty() || c.kind != engine::CounterKind::kCounter) {
          return;
        }
        if (const double v = sumOf(m, std::string(c.metric)); v > 0) {
          std::string_view name = c.metric;
          name.remove_prefix(std::string_view("synguard_").size());
          name.remove_suffix(std::string_view("_total").size());
          other << "  " << std::left << std::setw(36) << name << std::right << num(v) << "\n";
        }
      });
  if (!other.str().empty()) {
    os << "\nengine counters (not zero, all labels):\n" << other.str();
  }
}

/// One row per XDP interface: its attach mode and what the program answered, passed and dropped
/// (nothing without XDP).
void statusXdp(const Exposition& m, std::ostringstream& os) {
  const auto it = m.find("synguard_xdp_reattach_total");
  if (it == m.end() || it->second.empty()) {
    return;
  }
  os << "\n"
     << std::left << std::setw(20) << "XDP INTERFACE" << std::setw(10) << "MODE" << std::right
     << std::setw(10) << "ANSWERED" << std::setw(10) << "PASSED" << std::setw(10) << "DROPPED"
     << std::setw(10) << "REATTACH"
     << "\n";
  for (const Sample& s : it->second) {
    const auto nit = s.labels.find("interface");
    if (nit == s.labels.end()) {
      continue;
    }
    const std::string& name = nit->second;
    std::string mode = "DETACHED";
    for (const char* candidate : {"native", "generic"}) {
      if (sumOf(m, "synguard_xdp_attached", {{"interface", name}, {"mode", candidate}}) > 0) {
        mode = candidate;
      }
    }
    const auto packets = [&](const char* action) {
      return num(sumOf(m, "synguard_xdp_packets_total", {{"interface", name}, {"action", action}}));
    };
    os << std::left << std::setw(20) << name << std::setw(10) << mode << std::right << std::setw(10)
       << packets("tx") << std::setw(10) << packets("pass") << std::setw(10) << packets("drop")
       << std::setw(10) << num(s.value) << "\n";
  }
}

}  // namespace

std::string renderStatus(const std::string& exposition) {
  const auto m = parseExposition(exposition);
  const auto value = [&m](const std::string& name,
                          const std::map<std::string, std::string>& want = {}) {
    return sumOf(m, name, want);
  };
  std::ostringstream os;
  std::string version = "?";
  if (const auto it = m.find("synguard_build_info"); it != m.end() && !it->second.empty()) {
    version =
        it->second.front().labels.count("version") ? it->second.front().labels.at("version") : "?";
  }
  os << "synguard " << version << "   half-open " << num(value("synguard_half_open_connections"))
     << "   table " << num(value("synguard_table_entries")) << "/"
     << num(value("synguard_table_capacity")) << "   proxied "
     << num(value("synguard_proxied_connections")) << "\n\n";
  statusServices(m, os);
  statusXdp(m, os);
  os << "\ncookies rejected " << num(value("synguard_cookies_rejected_total")) << "   dropped "
     << num(value("synguard_verdicts_total", {{"verdict", "drop"}})) << "   accepted "
     << num(value("synguard_verdicts_total", {{"verdict", "accept"}})) << "   bypassed connections "
     << num(value("synguard_bypassed_connections_total")) << "\n";
  os << "queue packets " << num(value("synguard_queue_packets_total")) << "   kernel drops "
     << num(value("synguard_queue_kernel_drops_total")) << "   user drops "
     << num(value("synguard_queue_user_drops_total")) << "   failed open "
     << num(value("synguard_queue_failed_open_total")) << "   reloads ok/failed "
     << num(value("synguard_config_reloads_total", {{"result", "success"}})) << "/"
     << num(value("synguard_config_reloads_total", {{"result", "failure"}})) << "\n";
  statusOtherCounters(m, os);
  return os.str();
}

int runStatus(const std::string& listen, bool watch) {
  for (;;) {
    auto text = fetchMetrics(listen);
    if (!text) {
      std::fprintf(stderr, "%s\n", text.error().message.c_str());
      return 1;
    }
    const std::string view = renderStatus(*text);
    if (watch) {
      std::fputs("\033[H\033[2J", stdout);  // home, clear: a top-like refresh
    }
    std::fputs(view.c_str(), stdout);
    std::fflush(stdout);
    if (!watch) {
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

}  // namespace synguard::daemon
