#pragma once

// The XDP fast path as the daemon runs it: the program (XdpProgram) loaded once, attached to
// each configured interface through a BPF link, its maps kept current from the engines' state
// (refresh, every main-thread tick), its interfaces watched (a link whose interface went away is
// attached again when it comes back), and its counters summed per interface for the metrics.
// docs/DAEMON.md, "XDP fast path" has the design.
//
// Thread-safety: everything but figures() and program() runs on the daemon's main thread.
// figures() may be called from any thread (the metrics exporter's). program() is loaded before
// the workers start and lives until the XdpPath is destroyed, after the workers have stopped.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.h"
#include "daemon/inline/worker_snapshot.h"
#include "daemon/inline/xdp/xdp_figures.h"
#include "daemon/inline/xdp/xdp_program.h"
#include "engine/engine.h"
#include "engine/result.h"

namespace synguard::daemon::xdp {

/// Why an attach failed, for the caller's decision: a missing interface waits for it to appear;
/// anything else at start is a start error.
struct AttachFailure {
  bool missing = false;  ///< the interface does not exist (now)
  std::string message;   ///< names the interface and what is wrong
};

/// The message for a failed bpf_link_create on interface `name` in `mode` (native or generic),
/// `err` the errno: another XDP program attached (EBUSY, EEXIST), a driver without native XDP
/// (EOPNOTSUPP, EINVAL), a missing capability (EPERM), anything else with strerror.
std::string attachError(const std::string& name, AttachMode mode, int err);

/// The rows of sg_services' per-service table from the engines' view: `mode` cookie if any
/// worker has the service in cookie mode; the profile of the first worker that learned one
/// (else worker 0's). Services beyond the snapshots' (a reload in progress) pass normally.
std::vector<ServiceState> serviceStates(const engine::EngineConfig& cfg,
                                        const std::vector<WorkerSnapshot>& workers);

/// check_source: the anti-spoofing rules run for some service (rules.anti_spoofing and the
/// service's own anti_spoofing), so XDP must not answer a SYN whose source is a service's.
bool checkSource(const engine::ProtectionConfig& p, bool anti_spoofing,
                 const std::map<std::string, config::ServiceSide>& sides);

/// What refresh() writes into the program besides the service rows.
struct RefreshInputs {
  const engine::EngineConfig* config = nullptr;
  engine::SipKey master_key;
  bool check_source = true;
};

class XdpPath {
 public:
  /// Loads the program (the error names a missing capability or kernel support), writes its
  /// service map and attaches every interface of `cfg` (enabled). An interface that does not
  /// exist is a warning (attached when it appears); any other failure to attach is an error.
  static Result<std::unique_ptr<XdpPath>> start(const config::XdpConfig& cfg,
                                                const engine::ProtectionConfig& protection);
  ~XdpPath();
  XdpPath(const XdpPath&) = delete;
  XdpPath& operator=(const XdpPath&) = delete;

  /// A reload: rewrites the service map when the services changed, detaches what is no longer
  /// wanted (an interface gone from the list, every interface when the mode changed) and
  /// attaches what is new. A failure to attach is logged and retried by watch(); an error is
  /// returned only if the service map cannot be written. Returns what changed, for the log.
  Result<std::string> reconfigure(const config::XdpConfig& cfg,
                                  const engine::ProtectionConfig& protection,
                                  bool services_changed);
  /// Writes the state (keys, time, tables) and every service's row. Every tick (~100 ms).
  void refresh(const RefreshInputs& in, const std::vector<WorkerSnapshot>& workers);
  /// Every second: re-attaches interfaces that came back (new ifindex, or a defunct link) and
  /// updates the per-interface figures.
  void watch();
  /// The daemon stops: the program passes everything, then every link is closed (detached).
  void stop();

  const XdpProgram& program() const noexcept { return *program_; }
  std::vector<InterfaceFigures> figures() const;

 private:
  struct Link {
    std::string name;
    int ifindex = 0;  ///< when attached (0: not attached)
    int fd = -1;      ///< the BPF link
    AttachMode mode = AttachMode::kNone;
    bool ever_attached = false;
    std::uint64_t reattaches = 0;
    std::string last_error{};  ///< logged once until it changes
  };

  explicit XdpPath(std::unique_ptr<XdpProgram> program);
  /// Attaches `l` in cfg_.mode; logs success (with the mode and why native failed).
  Result<void, AttachFailure> attach(Link& l);
  void detach(Link& l);
  /// Checks every link; returns true if some ifindex changed.
  bool checkLinks();
  /// Gives the program the slots' ifindexes (slot i: links_[i]) after counting what the slots
  /// had so far to their previous holders.
  void assignSlots();
  void readCounters();
  void publishFigures();

  std::unique_ptr<XdpProgram> program_;
  config::XdpConfig cfg_;
  std::vector<Link> links_;
  std::vector<int> slot_ifindex_;  ///< what the program was last given
  std::vector<std::string> slot_name_;
  CounterTotals totals_;
  mutable std::mutex figures_mutex_;
  std::vector<InterfaceFigures> figures_;
};

}  // namespace synguard::daemon::xdp
