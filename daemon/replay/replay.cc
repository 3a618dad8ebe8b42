#include "daemon/replay/replay.h"

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>

#include "daemon/replay/pcap_source.h"
#include "daemon/replay/report.h"
#include "engine/track/outcome.h"

namespace synguard::replay {

namespace {

/// Replay's connection-table hash seed: fixed, so two runs over a capture evict alike and report
/// the same (2^64 / φ, the seed replay has always used).
constexpr std::uint64_t kReplayHashSeed = 0x9e3779b97f4a7c15ULL;

class ReplayClock : public engine::Clock {
 public:
  engine::MonotonicTime now() const noexcept override { return t_; }
  void set(engine::MonotonicTime t) noexcept { t_ = t; }

 private:
  engine::MonotonicTime t_{};
};

/// A capture cannot be answered: replay runs every service in monitor mode (dry_run below),
/// where the engine emits nothing. Anything it did emit is counted and dropped.
class DiscardSink : public engine::PacketSink {
 public:
  void emit(engine::Direction /*dir*/, std::span<const std::byte> /*pkt*/) noexcept override {
    ++emitted;
  }
  std::uint64_t emitted = 0;
};

double toSeconds(std::int64_t ns) { return static_cast<double>(ns) / 1e9; }

/// Writes one tab-separated line per connection as it leaves the engine, and tallies outcomes.
class ConnLog : public engine::ConnectionObserver {
 public:
  ConnLog(std::ostream* log, ReplaySummary& summary) : log_(log), summary_(summary) {
    if (log_ != nullptr) {
      *log_ << "#separator \\x09\n"
               "#fields\tts\torig_h\torig_p\tresp_h\tresp_p\tconn_state\tstate\torig_state\t"
               "resp_state\torig_pkts\tresp_pkts\tduration\tend\n"
               "#types\ttime\taddr\tport\taddr\tport\tstring\tstring\tstring\tstring\tcount\t"
               "count\tinterval\tstring\n";
    }
  }
  void setEngine(const engine::Engine* eng) { engine_ = eng; }

  void onModeChange(std::size_t service, const engine::ModeChange& c) noexcept override {
    if (engine_ == nullptr || summary_.mode_changes.size() >= kMaxModeChanges) {
      return;
    }
    summary_.mode_changes.push_back(
        ModeChangeRow{engine_->serviceConfig(service).name, toSeconds(c.at.since_epoch.count()),
                      std::string(engine::toString(c.from)), std::string(engine::toString(c.to)),
                      c.half_open, c.syn_rate});
  }
  static constexpr std::size_t kMaxModeChanges = 10000;

  void onConnectionEnd(const engine::Connection& c, engine::EndCause cause) noexcept override {
    const std::string_view outcome = engine::outcomeCode(c);
    const std::string_view state = engine::toString(c.state);
    ++summary_.connections_total;
    // Tallied by pointer identity of the static code strings (a flood ends millions of
    // connections; string-keyed maps here cost more than the tracking).
    ++outcome_counts_[outcome.data()];
    ++state_counts_[engine::index(c.state)];
    ++cause_counts_[static_cast<std::size_t>(cause)];
    if (log_ == nullptr) {
      return;
    }
    const double first = toSeconds(c.first_seen_ns);
    const double last = engine_ != nullptr
                            ? toSeconds(engine_->timeOfTick(c.last_seen).since_epoch.count())
                            : first;
    char ts[32];
    char dur[32];
    // Seconds with microseconds, from the integer nanoseconds (a double would round).
    std::snprintf(ts, sizeof ts, "%lld.%06lld",
                  static_cast<long long>(c.first_seen_ns / 1'000'000'000),
                  static_cast<long long>((c.first_seen_ns % 1'000'000'000) / 1000));
    std::snprintf(dur, sizeof dur, "%.3f", last > first ? last - first : 0.0);
    *log_ << ts << '\t' << c.key.orig_addr.toString() << '\t' << c.key.orig_port << '\t'
          << c.key.resp_addr.toString() << '\t' << c.key.resp_port << '\t' << outcome << '\t'
          << state << '\t' << engine::toString(c.ep[0].state) << '\t'
          << engine::toString(c.ep[1].state) << '\t' << c.pkts[0] << '\t' << c.pkts[1] << '\t'
          << dur << '\t' << engine::toString(cause) << '\n';
  }

  /// Moves the tallies into the summary's maps.
  void finish() {
    for (const auto& [code, n] : outcome_counts_) {
      summary_.by_outcome[code] += n;
    }
    for (const engine::TcpState s : engine::kTcpStates) {
      if (const std::uint64_t n = state_counts_[engine::index(s)]; n != 0) {
        summary_.by_state[std::string(engine::toString(s))] += n;
      }
    }
    for (std::size_t i = 0; i < cause_counts_.size(); ++i) {
      if (cause_counts_[i] != 0) {
        summary_.by_end_cause[std::string(engine::toString(static_cast<engine::EndCause>(i)))] +=
            cause_counts_[i];
      }
    }
  }

 private:
  std::ostream* log_;
  ReplaySummary& summary_;
  std::map<const char*, std::uint64_t> outcome_counts_;  // few keys, compared as pointers
  std::array<std::uint64_t, engine::kTcpStateCount> state_counts_{};
  std::array<std::uint64_t, engine::kEndCauseCount> cause_counts_{};
  const engine::Engine* engine_ = nullptr;
};

/// The engine's configuration for a replay: the options' with what only a capture needs.
engine::EngineConfig replayConfig(const ReplayOptions& opts) {
  engine::EngineConfig cfg = opts.engine;
  cfg.parse.allow_zero_ip_length = true;  // captures taken on TSO hosts record IP length 0
  cfg.record_stray = true;                // an analyst wants the lone RST in the log too
  // A capture cannot be answered: protected services run in monitor mode, so the report shows
  // when they would have switched to cookies and what they would have dropped.
  cfg.protection.dry_run = true;
  // Unassured entries' short life defends a gateway's table against spoofed segments; an
  // analyst wants each connection to live its state's timeout, as Zeek and conntrack time it.
  cfg.timeouts.unassured = cfg.timeouts.established;
  cfg.emergency.timeouts.unassured = cfg.emergency.timeouts.established;
  if (opts.attempt_timeout) {
    cfg.attempt_timeout = std::chrono::seconds(5);  // Zeek's tcp_attempt_delay
  }
  return cfg;
}

/// Packets are read kLookahead ahead of the engine (copied: libpcap reuses its buffer) so the
/// engine can start loading the table lines they will touch (Engine::prefetch).
class Lookahead {
 public:
  static constexpr std::size_t kLookahead = 8;

  /// Fills the ring from `src`; false once it is empty and the capture is over.
  bool fill(PcapSource& src, engine::Engine& eng, CaptureSummary& cs, std::ostream& err) {
    while (reading_ && held_ < kLookahead) {
      const PcapSource::Next n = src.next(pkt_);
      if (n == PcapSource::Next::kEnd) {
        reading_ = false;
      } else if (n == PcapSource::Next::kError) {
        cs.error = src.error();
        err << "synguard: warning: " << cs.error << "; keeping the packets before it\n";
        reading_ = false;
      } else if (n == PcapSource::Next::kPacket) {
        Held& h = ring_[(head_ + held_) % kLookahead];
        h.bytes.assign(pkt_.ip.begin(), pkt_.ip.end());
        h.wire = pkt_.ip_wire_length;
        h.ts = pkt_.ts;
        eng.prefetch(h.bytes, false);
        ++held_;
      }
    }
    if (held_ == 0) {
      return false;
    }
    if (held_ > kLookahead / 2) {
      eng.prefetch(ring_[(head_ + kLookahead / 2) % kLookahead].bytes, true);
    }
    return true;
  }

  /// The oldest packet held (valid until the next fill).
  const CapturedPacket& take() {
    Held& cur = ring_[head_];
    head_ = (head_ + 1) % kLookahead;
    --held_;
    pkt_.ts = cur.ts;
    pkt_.ip = cur.bytes;
    pkt_.ip_wire_length = cur.wire;
    return pkt_;
  }

 private:
  struct Held {
    std::vector<std::byte> bytes;
    std::size_t wire = 0;
    engine::MonotonicTime ts;
  };
  std::array<Held, kLookahead> ring_;
  std::size_t head_ = 0;
  std::size_t held_ = 0;
  bool reading_ = true;
  CapturedPacket pkt_;
};

/// One replay: the engine, its clock and observers, and the summary they fill.
class Replayer {
 public:
  Replayer(const ReplayOptions& opts, std::ostream& err, engine::Engine& eng, ReplayClock& clock,
           ReplaySummary& summary)
      : opts_(opts), err_(err), eng_(eng), clock_(clock), summary_(summary) {}

  /// Runs one capture through the engine; false if it could not be opened.
  bool replayCapture(const std::string& path);
  void finishProgress() const {
    if (progress_shown_) {
      err_ << "\n";
    }
  }
  /// What is still open at the end is reported as it stands.
  void summarize();
  std::chrono::steady_clock::time_point wallStart() const { return wall_start_; }

 private:
  void feed(const CapturedPacket& pkt);
  void showProgress(const std::string& path);

  const ReplayOptions& opts_;
  std::ostream& err_;
  engine::Engine& eng_;
  ReplayClock& clock_;
  ReplaySummary& summary_;
  bool have_ts_ = false;
  const std::chrono::steady_clock::time_point wall_start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_progress_ = wall_start_;
  bool progress_shown_ = false;
  std::uint64_t total_ = 0;
};

bool Replayer::replayCapture(const std::string& path) {
  CaptureSummary cs;
  cs.file = path;
  auto src = PcapSource::open(path);
  if (!src) {
    err_ << "synguard: " << src.error().message << "\n";
    cs.error = src.error().message;
    summary_.captures.push_back(cs);
    return false;
  }
  cs.link_type = src->linkName();
  cs.link_supported = src->linkSupported();
  if (!cs.link_supported) {
    err_ << "synguard: " << path << ": link type " << cs.link_type
         << " is not supported; file skipped\n";
    summary_.captures.push_back(cs);
    return true;
  }
  Lookahead ahead;
  while (ahead.fill(*src, eng_, cs, err_)) {
    feed(ahead.take());
    if (opts_.progress && (++total_ & 0xffff) == 0) {
      showProgress(path);
    }
  }
  const PcapStats& ps = src->stats();
  cs.frames = ps.frames;
  cs.ip_packets = ps.ip_packets;
  cs.skipped_not_ip = ps.skipped_not_ip;
  cs.skipped_truncated_link = ps.skipped_truncated_link;
  summary_.captures.push_back(cs);
  return true;
}

void Replayer::feed(const CapturedPacket& pkt) {
  clock_.set(pkt.ts);
  const double ts = toSeconds(pkt.ts.since_epoch.count());
  if (!have_ts_) {
    summary_.first_ts = ts;
    have_ts_ = true;
  }
  summary_.last_ts = std::max(summary_.last_ts, ts);
  (void)eng_.process(pkt.ip, pkt.ip_wire_length);
  if (eng_.halfOpen().peak() > summary_.half_open_peak) {
    summary_.half_open_peak = eng_.halfOpen().peak();
  }
  if (opts_.hook != nullptr) {
    opts_.hook->afterPacket(eng_, pkt.ip, ts);
  }
}

void Replayer::showProgress(const std::string& path) {
  const auto now = std::chrono::steady_clock::now();
  if (now - wall_start_ <= std::chrono::seconds(1) ||
      now - last_progress_ <= std::chrono::milliseconds(250)) {
    return;
  }
  last_progress_ = now;
  progress_shown_ = true;
  const double secs = std::chrono::duration<double>(now - wall_start_).count();
  char line[256];
  std::snprintf(line, sizeof line,
                "\r%s: %llu packets, %.0f packets/s, %zu connections, %llu half-open ",
                path.c_str(), static_cast<unsigned long long>(eng_.stats().packets),
                static_cast<double>(eng_.stats().packets) / secs, eng_.table().size(),
                static_cast<unsigned long long>(eng_.halfOpen().global()));
  err_ << line << std::flush;
}

void Replayer::summarize() {
  summary_.half_open_end = eng_.halfOpen().global();
  summary_.half_open_peak = eng_.halfOpen().peak();
  summary_.half_open_peak_ts = toSeconds(eng_.halfOpen().peakTimeNs());
  summary_.syns = eng_.halfOpen().globalSyns();
  summary_.syn_rate_peak = eng_.halfOpen().globalSynRate().peak();
  summary_.table_capacity = eng_.table().capacity();
  collectTop(eng_, opts_.top_n, summary_);
  for (std::size_t i = 0; i < eng_.serviceCount(); ++i) {
    const engine::ServiceRuntime& rt = eng_.service(i);
    summary_.services.push_back(
        ServiceRow{eng_.serviceConfig(i).name, std::string(engine::toString(rt.mode.mode())),
                   rt.syns, rt.peak_half_open, rt.mode_changes, rt.would_cookie, rt.would_drop});
  }
}

}  // namespace

int runReplay(const ReplayOptions& opts, std::ostream& out, std::ostream& err) {
  ReplaySummary summary;
  std::ofstream log_file;
  if (!opts.conn_log.empty()) {
    log_file.open(opts.conn_log, std::ios::out | std::ios::trunc);
    if (!log_file) {
      err << "synguard: cannot write connection log " << opts.conn_log << "\n";
      return 2;
    }
  }
  ConnLog conn_log(opts.conn_log.empty() ? nullptr : &log_file, summary);
  ReplayClock clock;
  DiscardSink sink;
  // Replay answers nothing (every service in monitor mode, a discarding sink) and reports the
  // same for the same capture: a zero cookie master key and a fixed hash seed, as it always had.
  const engine::Secrets secrets{.master_key = engine::SipKey{}, .hash_seed = kReplayHashSeed};
  auto created = engine::Engine::create(replayConfig(opts), secrets, clock, sink, &conn_log);
  if (!created) {
    err << "synguard: " << created.error().message << "\n";
    return 2;
  }
  engine::Engine& eng = *created;
  conn_log.setEngine(&eng);

  int rc = 0;
  Replayer replayer(opts, err, eng, clock, summary);
  for (const std::string& path : opts.captures) {
    if (!replayer.replayCapture(path)) {
      rc = 2;
    }
  }
  replayer.finishProgress();
  replayer.summarize();
  if (opts.hook != nullptr) {
    opts.hook->beforeFlush(eng);
  }
  eng.flush();
  conn_log.finish();
  summary.stats = eng.stats();
  summary.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - replayer.wallStart())
          .count();
  if (log_file.is_open()) {
    log_file.flush();
    if (!log_file) {
      err << "synguard: error writing connection log " << opts.conn_log << "\n";
      rc = 2;
    }
  }
  if (opts.json) {
    printJson(summary, out);
  } else {
    printHuman(summary, out);
  }
  return rc;
}

}  // namespace synguard::replay
