// The Prometheus source of `synguard tune`: the four queries of docs/TUNING.md through the HTTP
// query_range API (libcurl), in chunks Prometheus accepts, merged per service into samples.
#include "daemon/tune/prometheus_source.h"

#include <curl/curl.h>

#include <array>
#include <chrono>
#include <cmath>
#include <ctime>
#include <memory>
#include <mutex>
#include <sstream>

#include "daemon/tune/prometheus_range.h"

namespace synguard::tune {
namespace {

using prometheus::Chunk;
using prometheus::Points;

struct Transfer {
  std::string body;
  long status = 0;  // NOLINT(google-runtime-int): curl's CURLINFO_RESPONSE_CODE type
  std::int64_t requests = 0;
  std::int64_t points = 0;
};

std::size_t appendBody(char* data, std::size_t size, std::size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

void initCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// GET `url` into transfer.body; false with curl's reason (connection refused, DNS, timeout).
bool httpGet(const std::string& url, double timeout_seconds, Transfer& transfer,
             std::string& error) {
  initCurlOnce();
  const std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(),
                                                                 &curl_easy_cleanup);
  if (!curl) {
    error = "cannot start an HTTP request (curl_easy_init)";
    return false;
  }
  std::array<char, CURL_ERROR_SIZE> detail{};
  const auto timeout_ms =
      static_cast<long>(timeout_seconds * 1000.0);  // NOLINT(google-runtime-int)
  transfer.body.clear();
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, detail.data());
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, &appendBody);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &transfer.body);
  curl_easy_setopt(curl.get(), CURLOPT_ACCEPT_ENCODING, "");  // gzip: the answers are large
  const CURLcode rc = curl_easy_perform(curl.get());
  ++transfer.requests;
  if (rc != CURLE_OK) {
    // libcurl's detail ("Failed to connect to HOST port N after 0 ms: Couldn't connect to
    // server") usually ends with its summary; add the summary only where it does not.
    const std::string summary = curl_easy_strerror(rc);
    error = detail.data();
    if (error.find(summary) == std::string::npos) {
      error += error.empty() ? summary : " (" + summary + ")";
    }
    return false;
  }
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &transfer.status);
  return true;
}

// One query over the whole range, chunk by chunk, into `points`.
bool fetchQuery(const PrometheusQuery& q, const std::string& query,
                const std::vector<Chunk>& chunks, std::int64_t step_ms, Transfer& transfer,
                Points& points, std::string& error) {
  for (const auto& chunk : chunks) {
    std::string why;
    if (!httpGet(prometheus::rangeUrl(q.url, query, chunk, step_ms), q.timeout_seconds, transfer,
                 why)) {
      error = "cannot query Prometheus at " + q.url + ": " + why;
      return false;
    }
    // Prometheus answers its errors (bad query, too many points, timeout) as JSON with a 4xx or
    // 5xx status: its errorType and error say more than the status.
    const bool parsed = prometheus::parseMatrix(transfer.body, points, why);
    if (!parsed || transfer.status != 200) {
      const bool prometheus_error = why.rfind("Prometheus error", 0) == 0;
      error = "Prometheus at " + q.url + " answered HTTP " + std::to_string(transfer.status) +
              " to " + query + (prometheus_error || transfer.status == 200 ? ": " + why : "");
      return false;
    }
  }
  for (const auto& [service, by_time] : points) {
    transfer.points += static_cast<std::int64_t>(by_time.size());
  }
  return true;
}

std::string isoTime(std::int64_t ms) {
  const std::time_t t = ms / 1000;
  std::tm utc{};
  gmtime_r(&t, &utc);
  std::array<char, 32> text{};
  std::strftime(text.data(), text.size(), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text.data();
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) {
    out += (out.empty() ? "" : ", ") + name;
  }
  return out;
}

bool checkQuery(const PrometheusQuery& q, std::string& error) {
  if (q.url.empty()) {
    error = "--prometheus: an empty URL";
  } else if (!(q.step_seconds >= 1)) {
    error = "--step: at least 1s";
  } else if (!(q.since_seconds >= q.step_seconds)) {
    error = "--since: at least one step (" + prometheus::formatSeconds(q.step_seconds) + ")";
  } else if (q.services.empty()) {
    error = "the configuration has no services to look up in Prometheus";
  } else {
    return true;
  }
  return false;
}

std::int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

bool loadPrometheusHistory(const PrometheusQuery& q, History& out, std::string& error) {
  if (!checkQuery(q, error)) {
    return false;
  }
  const auto began = std::chrono::steady_clock::now();
  const auto step_ms = std::llround(q.step_seconds * 1000.0);
  // Evaluation times on multiples of the step, so that two runs over the same history ask for
  // the same points; the last one at or before `end`.
  const std::int64_t end_ms =
      (q.end > 0 ? std::llround(q.end * 1000.0) : nowMs()) / step_ms * step_ms;
  const std::int64_t start_ms =
      end_ms - std::llround(q.since_seconds * 1000.0) / step_ms * step_ms + step_ms;
  const auto chunks = prometheus::splitRange(start_ms, end_ms, step_ms);
  const auto queries = prometheus::queriesFor(step_ms);
  prometheus::QueryPoints points;
  Transfer transfer;
  if (!fetchQuery(q, queries.half_open, chunks, step_ms, transfer, points.half_open, error) ||
      !fetchQuery(q, queries.syn_rate, chunks, step_ms, transfer, points.syn_rate, error) ||
      !fetchQuery(q, queries.completed_rate, chunks, step_ms, transfer, points.completed_rate,
                  error) ||
      !fetchQuery(q, queries.cookie_mode, chunks, step_ms, transfer, points.cookie_mode, error)) {
    return false;
  }
  auto series = prometheus::mergeSamples(points, q.services, step_ms);
  const auto range = prometheus::formatSeconds(q.since_seconds) + " (" +
                     isoTime(start_ms - step_ms) + " to " + isoTime(end_ms) + ")";
  if (series.empty()) {
    error = "no series for services " + joined(q.services) + " in " + q.url + " over " + range;
    return false;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  std::ostringstream origin;
  origin.precision(2);
  origin << std::fixed << "prometheus: " << q.url << ", " << range << " at "
         << prometheus::formatSeconds(q.step_seconds) << " (" << transfer.requests << " requests, "
         << transfer.points << " points, " << seconds << " s)";
  out.origin += (out.origin.empty() ? "" : "; ") + origin.str();
  for (auto& s : series) {
    out.services.push_back(std::move(s));
  }
  return true;
}

}  // namespace synguard::tune
