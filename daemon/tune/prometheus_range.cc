#include "daemon/tune/prometheus_range.h"

#include <curl/curl.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

namespace synguard::tune::prometheus {
namespace {

using nlohmann::json;

// Milliseconds as the API's float seconds ("1733443200.5"); whole seconds without decimals.
std::string apiSeconds(std::int64_t ms) {
  std::ostringstream out;
  out << ms / 1000;
  if (ms % 1000 != 0) {
    const auto frac = std::to_string(1000 + ms % 1000).substr(1);  // 3 digits
    out << '.' << frac;
  }
  return out.str();
}

std::string escape(const std::string& text) {
  const std::unique_ptr<char, decltype(&curl_free)> escaped(
      curl_easy_escape(nullptr, text.c_str(), static_cast<int>(text.size())), &curl_free);
  return escaped ? std::string(escaped.get()) : std::string();
}

// "[1733443200.123, \"42\"]" -> (ms, value); false for a malformed or non-finite point.
bool parsePoint(const json& point, std::int64_t& t_ms, double& value) {
  if (!point.is_array() || point.size() != 2 || !point[0].is_number() || !point[1].is_string()) {
    return false;
  }
  t_ms = std::llround(point[0].get<double>() * 1000.0);
  const auto& text = point[1].get_ref<const std::string&>();
  char* end = nullptr;
  value = std::strtod(text.c_str(), &end);  // Prometheus writes NaN, +Inf, -Inf as such
  return end != text.c_str() && *end == '\0' && std::isfinite(value);
}

bool addSeries(const json& series, Points& points, std::string& error) {
  if (!series.is_object() || !series.contains("values") || !series["values"].is_array()) {
    error = "malformed answer: a series without \"values\"";
    return false;
  }
  const auto metric = series.value("metric", json::object());
  if (!metric.is_object() || !metric.contains("service") || !metric["service"].is_string()) {
    return true;  // not per service (e.g. no synguard series matched): nothing to merge
  }
  auto& by_time = points[metric["service"].get<std::string>()];
  for (const auto& point : series["values"]) {
    std::int64_t t_ms = 0;
    double value = 0;
    if (parsePoint(point, t_ms, value)) {
      by_time[t_ms] = value;
    }
  }
  return true;
}

std::string prometheusError(const json& doc) {
  const auto type = doc.contains("errorType") && doc["errorType"].is_string()
                        ? doc["errorType"].get<std::string>()
                        : std::string("unknown");
  const auto text = doc.contains("error") && doc["error"].is_string()
                        ? doc["error"].get<std::string>()
                        : std::string("(no message)");
  return "Prometheus error (" + type + "): " + text;
}

const double* pointAt(const Points& points, const std::string& service, std::int64_t t_ms) {
  const auto series = points.find(service);
  if (series == points.end()) {
    return nullptr;
  }
  const auto point = series->second.find(t_ms);
  return point == series->second.end() ? nullptr : &point->second;
}

}  // namespace

std::vector<Chunk> splitRange(std::int64_t start_ms, std::int64_t end_ms, std::int64_t step_ms,
                              std::int64_t max_points) {
  std::vector<Chunk> chunks;
  if (step_ms <= 0 || end_ms < start_ms || max_points <= 0) {
    return chunks;
  }
  for (std::int64_t first = start_ms; first <= end_ms; first += max_points * step_ms) {
    const std::int64_t last = first + (max_points - 1) * step_ms;
    chunks.push_back({first, std::min(last, first + (end_ms - first) / step_ms * step_ms)});
  }
  return chunks;
}

std::string rangeUrl(const std::string& base, const std::string& query, const Chunk& chunk,
                     std::int64_t step_ms) {
  std::string url = base;
  while (!url.empty() && url.back() == '/') {
    url.pop_back();
  }
  return url + "/api/v1/query_range?query=" + escape(query) +
         "&start=" + apiSeconds(chunk.start_ms) + "&end=" + apiSeconds(chunk.end_ms) +
         "&step=" + apiSeconds(step_ms);
}

bool parseMatrix(const std::string& body, Points& points, std::string& error) {
  const auto doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    error = "malformed answer: not JSON";
    return false;
  }
  const auto status = doc.value("status", std::string());
  if (status == "error") {
    error = prometheusError(doc);
    return false;
  }
  if (status != "success" || !doc.contains("data") || !doc["data"].is_object()) {
    error = "malformed answer: no \"status\":\"success\" with \"data\"";
    return false;
  }
  const auto& data = doc["data"];
  if (data.value("resultType", std::string()) != "matrix" || !data.contains("result") ||
      !data["result"].is_array()) {
    error = "malformed answer: the result is not a matrix";
    return false;
  }
  return std::all_of(data["result"].begin(), data["result"].end(),
                     [&](const json& series) { return addSeries(series, points, error); });
}

Queries queriesFor(std::int64_t step_ms) {
  const auto range = "[" + formatSeconds(static_cast<double>(step_ms) / 1000.0) + "]";
  return {
      "max by (service) (synguard_service_half_open_connections)",
      "max by (service) (rate(synguard_service_syns_received_total" + range + "))",
      "max by (service) (rate(synguard_service_handshakes_completed_total" + range + "))",
      "max by (service) (synguard_service_mode{mode=\"cookie\"})",
  };
}

std::vector<ServiceSeries> mergeSamples(const QueryPoints& points,
                                        const std::vector<std::string>& services,
                                        std::int64_t step_ms) {
  const double step = static_cast<double>(step_ms) / 1000.0;
  std::vector<ServiceSeries> out;
  for (const auto& name : services) {
    const auto half_open = points.half_open.find(name);
    if (half_open == points.half_open.end()) {
      continue;
    }
    ServiceSeries series{name, {}, {}};
    for (const auto& [t_ms, value] : half_open->second) {
      const double* syn_rate = pointAt(points.syn_rate, name, t_ms);
      if (syn_rate == nullptr) {
        continue;
      }
      const double* completed = pointAt(points.completed_rate, name, t_ms);
      const double* cookie = pointAt(points.cookie_mode, name, t_ms);
      series.samples.push_back({.t = static_cast<double>(t_ms - step_ms) / 1000.0,
                                .width = step,
                                .half_open = value,
                                .syn_rate = *syn_rate,
                                .syns = *syn_rate * step,
                                .completed = completed != nullptr ? *completed * step : -1.0,
                                .cookie_mode = cookie != nullptr && *cookie >= 0.5});
    }
    if (!series.samples.empty()) {
      out.push_back(std::move(series));
    }
  }
  return out;
}

std::string formatSeconds(double seconds) {
  constexpr std::pair<double, const char*> kUnits[] = {
      {86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};
  for (const auto& [size, unit] : kUnits) {
    const double count = seconds / size;
    if (count >= 1 && count == std::floor(count)) {
      return std::to_string(static_cast<long long>(count)) + unit;
    }
  }
  std::ostringstream out;
  out << seconds << 's';
  return out.str();
}

}  // namespace synguard::tune::prometheus
