#include "daemon/tune/capture_source.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include "daemon/replay/replay.h"
#include "daemon/tune/analysis.h"
#include "engine/packet/segment.h"

namespace synguard::tune {

namespace {

/// Gaps longer than this between packets are not filled with idle samples (two captures of
/// different days, or a capture that paused).
constexpr double kMaxFilledGapSeconds = 3600;

/// Per service, the window (one second) being filled.
struct Window {
  double start = 0;
  double half_open = 0;
  double syn_window = 0;  ///< highest SYN count of the engine's 1-second rate window
  std::uint64_t syns_at_start = 0;
  std::uint64_t completed_at_start = 0;
  bool cookie = false;
};

/// Samples the engine once a second per service, as the replay feeds it.
class Sampler : public replay::ReplayHook {
 public:
  explicit Sampler(CaptureRun& run) : run_(run) {}

  void afterPacket(engine::Engine& eng, std::span<const std::byte> ip, double ts) override {
    if (!started_) {
      start(eng, ts);
    }
    run_.last_ts = std::max(run_.last_ts, ts);
    const double second = std::floor(ts);
    if (second > current_) {  // a packet stamped a little earlier counts in the open one
      closeWindows(eng, second);
    }
    for (std::size_t i = 0; i < eng.serviceCount(); ++i) {
      observe(eng, i, ts);
    }
    observeSource(eng, ip);
  }

  void beforeFlush(engine::Engine& eng) override {
    if (!started_) {
      return;
    }
    closeWindows(eng, current_ + 1);
    for (std::size_t i = 0; i < eng.serviceCount(); ++i) {
      const engine::ServiceRuntime& rt = eng.service(i);
      run_.syns[i] = rt.syns;
      run_.mode_changes[i] = rt.mode_changes;
      run_.would_drop[i] = rt.would_drop;
    }
    for (const auto& [key, l] : source_peaks_) {
      run_.services[key.second].sources.push_back(l);
    }
  }

 private:
  void start(engine::Engine& eng, double ts) {
    started_ = true;
    run_.first_ts = ts;
    run_.last_ts = ts;
    current_ = std::floor(ts);
    windows_.assign(eng.serviceCount(), Window{});
    for (Window& w : windows_) {
      w.start = current_;
    }
  }

  void observe(engine::Engine& eng, std::size_t i, double ts) {
    const engine::ServiceRuntime& rt = eng.service(i);
    Window& w = windows_[i];
    w.half_open = std::max(w.half_open, static_cast<double>(rt.half_open));
    w.syn_window = std::max(w.syn_window, static_cast<double>(rt.syn_rate.currentWindowCount()));
    if (rt.mode.mode() == engine::ServiceMode::kCookie) {
      w.cookie = true;
      if (!run_.seconds_to_cookie[i]) {
        run_.seconds_to_cookie[i] = ts - run_.first_ts;
      }
    }
  }

  /// Ends the open windows and the idle seconds up to `next`, and opens `next`'s.
  void closeWindows(engine::Engine& eng, double next) {
    std::vector<bool> baseline(eng.serviceCount(), false);
    for (std::size_t i = 0; i < eng.serviceCount(); ++i) {
      const engine::ServiceRuntime& rt = eng.service(i);
      Window& w = windows_[i];
      baseline[i] = classify(push(i, w, rt)) == Exclusion::kNone;
      const bool fill = next - current_ <= kMaxFilledGapSeconds;
      for (double t = current_ + 1; fill && t < next; t += 1) {
        Window idle{t,
                    static_cast<double>(rt.half_open),
                    0,
                    rt.syns,
                    rt.handshakes_completed,
                    rt.mode.mode() == engine::ServiceMode::kCookie};
        push(i, idle, rt);
      }
      w = Window{next,
                 static_cast<double>(rt.half_open),
                 0,
                 rt.syns,
                 rt.handshakes_completed,
                 rt.mode.mode() == engine::ServiceMode::kCookie};
    }
    foldSources(baseline);
    current_ = next;
  }

  const Sample& push(std::size_t i, const Window& w, const engine::ServiceRuntime& rt) {
    Sample s;
    s.t = w.start;
    s.width = 1;
    s.half_open = w.half_open;
    s.syns = static_cast<double>(rt.syns - w.syns_at_start);
    s.syn_rate = std::max(s.syns, w.syn_window);
    s.completed = static_cast<double>(rt.handshakes_completed - w.completed_at_start);
    s.cookie_mode = w.cookie;
    run_.services[i].samples.push_back(s);
    return run_.services[i].samples.back();
  }

  /// A SYN to a service: its source prefix's SYNs and half-open count in this window, from
  /// the engine's per-source counters (tagged with the service's index + 1).
  void observeSource(engine::Engine& eng, std::span<const std::byte> ip) {
    engine::Segment seg;
    if (engine::parseSegment(ip, seg, parse_) != engine::ParseError::kNone ||
        !seg.has(engine::kSyn) || seg.has(engine::kAck)) {
      return;
    }
    const std::uint32_t svc = eng.findService(seg.dst, seg.dst_port);
    if (svc == engine::ServiceMap::kNone) {
      return;
    }
    const engine::HalfOpenAccounting& ho = eng.halfOpen();
    const engine::IpAddress prefix = ho.sourcePrefix(seg.src);
    SourceWindow& w = sources_now_[{
        prefix.toString() + '/' + std::to_string(ho.sourcePrefixLength(seg.src)), svc}];
    ++w.syns;
    const std::uint32_t idx = ho.sources().find(prefix, static_cast<std::uint16_t>(svc + 1));
    if (idx != engine::kNoIndex) {
      const engine::CounterEntry& e = ho.sources().at(idx);
      w.half_open = std::max(w.half_open, static_cast<double>(e.half_open));
      w.engine_window =
          std::max(w.engine_window, static_cast<double>(e.syn_rate.currentWindowCount()));
    }
  }

  /// Folds the closing window's source figures into the run's peaks, for the services whose
  /// window is in the baseline (a flood's sources must not set the per-source limits).
  void foldSources(const std::vector<bool>& baseline) {
    for (const auto& [key, w] : sources_now_) {
      if (!baseline[key.second]) {
        continue;
      }
      SourceLoad& l = source_peaks_[key];
      l.prefix = key.first;
      l.peak_half_open = std::max(l.peak_half_open, w.half_open);
      l.peak_syn_rate = std::max({l.peak_syn_rate, w.syns, w.engine_window});
    }
    sources_now_.clear();
  }

  struct SourceWindow {
    double syns = 0;           ///< SYNs in the window
    double engine_window = 0;  ///< the highest count of the engine's 1-second SYN window
    double half_open = 0;
  };

  CaptureRun& run_;
  engine::ParseOptions parse_{.allow_zero_ip_length = true};
  std::map<std::pair<std::string, std::size_t>, SourceWindow> sources_now_;
  std::map<std::pair<std::string, std::size_t>, SourceLoad> source_peaks_;
  bool started_ = false;
  double current_ = 0;
  std::vector<Window> windows_;
};

std::string firstLine(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  constexpr std::string_view kPrefix = "synguard: ";
  if (line.starts_with(kPrefix)) {
    line.erase(0, kPrefix.size());
  }
  return line;
}

}  // namespace

bool replayCapture(const std::string& capture, const engine::EngineConfig& cfg, CaptureRun& out,
                   std::string& error) {
  const std::size_t n = cfg.protection.services.size();
  out = CaptureRun{};
  out.capture = capture;
  out.services.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    out.services[i].service = cfg.protection.services[i].name;
  }
  out.syns.assign(n, 0);
  out.mode_changes.assign(n, 0);
  out.would_drop.assign(n, 0);
  out.seconds_to_cookie.assign(n, std::nullopt);

  Sampler sampler(out);
  replay::ReplayOptions opts;
  opts.captures = {capture};
  opts.engine = cfg;
  // A gateway keeps an unanswered attempt half-open for its SYN-SENT timeout.
  opts.attempt_timeout = false;
  opts.hook = &sampler;
  std::ostringstream report;
  std::ostringstream problems;
  const int rc = replay::runReplay(opts, report, problems);
  if (rc != 0) {
    error = firstLine(problems.str());
    return false;
  }
  return true;
}

bool hasServiceTraffic(const CaptureRun& run) {
  return std::any_of(run.syns.begin(), run.syns.end(), [](std::uint64_t s) { return s > 0; });
}

void mergeRuns(const std::vector<CaptureRun>& runs, History& history) {
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < history.services.size(); ++i) {
    index[history.services[i].service] = i;
  }
  for (const CaptureRun& run : runs) {
    for (std::size_t i = 0; i < run.services.size(); ++i) {
      if (run.syns[i] == 0) {
        continue;
      }
      const ServiceSeries& from = run.services[i];
      auto [it, added] = index.try_emplace(from.service, history.services.size());
      if (added) {
        history.services.push_back(ServiceSeries{from.service, {}, {}});
      }
      ServiceSeries& to = history.services[it->second];
      to.samples.insert(to.samples.end(), from.samples.begin(), from.samples.end());
      to.sources.insert(to.sources.end(), from.sources.begin(), from.sources.end());
    }
  }
  for (ServiceSeries& s : history.services) {
    // One row per prefix: its highest figures over the captures.
    std::map<std::string, SourceLoad> by_prefix;
    for (const SourceLoad& l : s.sources) {
      SourceLoad& m = by_prefix.try_emplace(l.prefix, SourceLoad{l.prefix, 0, 0}).first->second;
      m.peak_half_open = std::max(m.peak_half_open, l.peak_half_open);
      m.peak_syn_rate = std::max(m.peak_syn_rate, l.peak_syn_rate);
    }
    s.sources.clear();
    for (auto& [prefix, l] : by_prefix) {
      s.sources.push_back(l);
    }
    std::stable_sort(s.samples.begin(), s.samples.end(),
                     [](const Sample& a, const Sample& b) { return a.t < b.t; });
  }
}

}  // namespace synguard::tune
