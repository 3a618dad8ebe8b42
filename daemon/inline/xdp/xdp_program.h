#pragma once

// The XDP program as the daemon sees it: the skeleton (synguard_xdp.skel.h, made by
// `bpftool gen skeleton` at build time) opened and loaded, its globals and maps written from
// the engine's configuration and state, its counters read back, and BPF_PROG_TEST_RUN for
// the differential test and the benchmark. Attaching to interfaces is XdpPath's job.
//
// Thread-safety: one writer (the daemon's main thread, or a test). counters() and
// serviceCounters() only read maps and may run on another thread.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "daemon/inline/xdp/xdp_abi.h"
#include "engine/engine.h"
#include "engine/result.h"

namespace synguard::daemon::xdp {

/// Everything the program needs besides per-service modes, taken from an EngineConfig, the
/// master key and the time: written to the inactive copy of sg_state, then made active.
struct StateInputs {
  const engine::EngineConfig* config = nullptr;
  engine::SipKey master_key;
  std::int64_t wall_offset_ns = 0;  ///< CLOCK_REALTIME - CLOCK_MONOTONIC, now
  std::int64_t wall_now_ns = 0;     ///< CLOCK_REALTIME now (picks the key period)
  bool check_source = true;         ///< anti-spoofing on for some service
  bool ready = true;
};

/// A service's row in sg_services from the engine's view of it.
struct ServiceState {
  sg_xdp_svc_action action = SG_XDP_SVC_PASS_NORMAL;
  bool deny_drop = false;
  engine::ServerProfile profile;  ///< Engine::cookieProfile
  std::uint16_t default_mss_v4 = 1460;
  std::uint16_t default_mss_v6 = 1440;
};

/// The action a service's row should have, from its configuration, the engine's mode for it
/// and the dry-run flag (the daemon's rule, kept here so the test and the daemon agree).
sg_xdp_svc_action actionFor(const engine::ServiceConfig& sc, bool dry_run,
                            engine::ServiceMode mode) noexcept;

/// Per-interface counters, summed over CPUs: index by sg_xdp_counter.
using Counters = std::array<std::uint64_t, SG_XDP_NCOUNTERS>;

class XdpProgram {
 public:
  struct Options {
    /// Test only: the program reads the wall clock from sg_fixed_wall_ns instead of
    /// bpf_ktime_get_ns() + offset (a .rodata constant: the verifier removes the branch).
    bool fixed_clock = false;
    std::size_t lpm_capacity = 4096;  ///< max entries of sg_services, sg_allow, sg_deny each
  };
  /// Opens and loads the program (needs CAP_BPF + CAP_NET_ADMIN, or root). The error names
  /// what is missing (capability, kernel support) and the libbpf message.
  static Result<std::unique_ptr<XdpProgram>> load(const Options& opts);
  ~XdpProgram();
  XdpProgram(const XdpProgram&) = delete;
  XdpProgram& operator=(const XdpProgram&) = delete;

  int programFd() const noexcept;

  /// Writes the inactive sg_state copy and flips sg_active.
  void writeState(const StateInputs& in) noexcept;
  /// Marks the state not ready (the program passes everything) without touching the rest.
  void setReady(bool ready) noexcept;
  /// Rewrites sg_services (the LPM of service prefixes and port rows), sg_allow and sg_deny
  /// from the configuration: entries no longer wanted are deleted, new ones added.
  Result<void> writeServiceMap(const engine::ProtectionConfig& protection);
  /// Writes one service's row (mode, options). `svc` < SG_XDP_MAX_SERVICES.
  void writeService(std::size_t svc, const ServiceState& s) noexcept;
  /// Sets the interfaces whose counters are kept apart (slot i = ifindexes[i]).
  void setInterfaces(std::span<const int> ifindexes) noexcept;
  /// Test only: the wall clock the program reads with Options::fixed_clock.
  void setFixedWallNs(std::uint64_t ns) noexcept;

  /// Counters of interface slot `slot` (SG_XDP_MAX_IFACES: the "other" slot), summed over CPUs.
  Counters counters(std::size_t slot) const noexcept;
  /// Per-service feedback, summed over CPUs (monotonic totals: the caller takes deltas).
  sg_xdp_svc_stats serviceCounters(std::size_t svc) const noexcept;

  /// BPF_PROG_TEST_RUN: runs the program once (or `repeat` times) on `frame`. Returns the XDP
  /// action and the output frame; `duration_ns` the kernel's average per run.
  struct RunResult {
    std::uint32_t action = 0;  ///< XDP_PASS, XDP_TX, XDP_DROP...
    std::vector<std::uint8_t> out;
    std::uint32_t duration_ns = 0;
  };
  Result<RunResult> testRun(std::span<const std::uint8_t> frame, std::uint32_t repeat = 1,
                            int ingress_ifindex = 0) const;

 private:
  XdpProgram() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace synguard::daemon::xdp
