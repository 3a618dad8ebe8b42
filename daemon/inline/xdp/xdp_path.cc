// The XDP fast path's daemon side: links, refresh, the interface watch and the figures.
#include "daemon/inline/xdp/xdp_path.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "daemon/inline/log.h"

namespace synguard::daemon::xdp {

namespace {

std::int64_t clockNs(clockid_t id) {
  timespec ts{};
  ::clock_gettime(id, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::uint32_t flagsOf(AttachMode m) {
  return m == AttachMode::kNative ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
}

/// The modes `mode` tries, in order.
std::vector<AttachMode> triesOf(config::XdpMode mode) {
  switch (mode) {
    case config::XdpMode::kAuto:
      return {AttachMode::kNative, AttachMode::kGeneric};
    case config::XdpMode::kNative:
      return {AttachMode::kNative};
    case config::XdpMode::kGeneric:
      return {AttachMode::kGeneric};
    case config::XdpMode::kOff:
      return {};
  }
  return {};
}

/// The interface a link is attached to now, as the kernel says (0: defunct, the interface went
/// away), or -1 if the kernel does not report it (before Linux 5.18... then only the ifindex
/// of the name tells).
int linkIfindex(int fd) {
  bpf_link_info info{};
  std::uint32_t len = sizeof info;
  if (::bpf_obj_get_info_by_fd(fd, &info, &len) != 0 || info.type != BPF_LINK_TYPE_XDP) {
    return -1;
  }
  return static_cast<int>(info.xdp.ifindex);
}

}  // namespace

std::string attachError(const std::string& name, AttachMode mode, int err) {
  const std::string where = "xdp: " + name + ": ";
  switch (err) {
    case EBUSY:
    case EEXIST:
      return where +
             "another XDP program is attached to the interface; synguard never replaces one "
             "(detach it first, e.g. `ip link set dev " +
             name + " xdp off`, or remove the interface from xdp.interfaces)";
    case EOPNOTSUPP:
    case EINVAL:
      if (mode == AttachMode::kNative) {
        return where + "the driver has no native XDP support (" + std::strerror(err) +
               "): use xdp.mode generic or auto";
      }
      return where + "cannot attach in generic mode: " + std::strerror(err);
    case EPERM:
    case EACCES:
      return where + "not permitted to attach XDP (" + std::strerror(err) +
             "): needs CAP_NET_ADMIN and CAP_BPF";
    case ENODEV:
      return where + "the interface does not exist";
    default:
      return where + "cannot attach in " + toString(mode) + " mode: " + std::strerror(err);
  }
}

std::vector<ServiceState> serviceStates(const engine::EngineConfig& cfg,
                                        const std::vector<WorkerSnapshot>& workers) {
  const engine::ProtectionConfig& p = cfg.protection;
  std::vector<ServiceState> out(std::min<std::size_t>(p.services.size(), SG_XDP_MAX_SERVICES));
  for (std::size_t s = 0; s < out.size(); ++s) {
    const engine::ServiceConfig& sc = p.services[s];
    ServiceState& st = out[s];
    st.default_mss_v4 = p.default_mss_v4;
    st.default_mss_v6 = p.default_mss_v6;
    st.deny_drop = !p.dry_run && !sc.monitor;
    engine::ServiceMode mode = engine::ServiceMode::kNormal;
    const engine::ServerProfile* profile = nullptr;
    bool known = false;
    for (const WorkerSnapshot& w : workers) {
      if (s >= w.services.size() || w.services[s].name != sc.name) {
        continue;  // this worker has not taken the configuration yet
      }
      known = true;
      if (w.services[s].mode == engine::ServiceMode::kCookie) {
        mode = engine::ServiceMode::kCookie;
      }
      if (profile == nullptr || (!profile->learned && w.services[s].profile.learned)) {
        profile = &w.services[s].profile;
      }
    }
    if (!known) {
      st.action = SG_XDP_SVC_PASS_NORMAL;  // the queue decides until the engines know it
      continue;
    }
    st.profile = *profile;
    st.action = actionFor(sc, p.dry_run, mode);
  }
  return out;
}

bool checkSource(const engine::ProtectionConfig& p, bool anti_spoofing,
                 const std::map<std::string, config::ServiceSide>& sides) {
  if (!anti_spoofing) {
    return false;
  }
  return std::any_of(p.services.begin(), p.services.end(), [&](const engine::ServiceConfig& s) {
    const auto it = sides.find(s.name);
    return it == sides.end() || it->second.check;
  });
}

XdpPath::XdpPath(std::unique_ptr<XdpProgram> program) : program_(std::move(program)) {}

XdpPath::~XdpPath() {
  for (Link& l : links_) {
    detach(l);
  }
}

Result<std::unique_ptr<XdpPath>> XdpPath::start(const config::XdpConfig& cfg,
                                                const engine::ProtectionConfig& protection) {
  auto loaded = XdpProgram::load(XdpProgram::Options{});
  if (!loaded) {
    return Unexpected{Error{"xdp: cannot load the XDP program: " + loaded.error().message}};
  }
  std::unique_ptr<XdpPath> path(new XdpPath(std::move(*loaded)));
  path->program_->setReady(false);
  if (auto r = path->program_->writeServiceMap(protection); !r) {
    return Unexpected{Error{"xdp: the service map: " + r.error().message}};
  }
  path->cfg_ = cfg;
  for (const std::string& name : cfg.interfaces) {
    path->links_.push_back(Link{name});
  }
  for (Link& l : path->links_) {
    if (auto r = path->attach(l); !r) {
      if (!r.error().missing) {
        return Unexpected{Error{r.error().message}};
      }
      l.last_error = r.error().message;
      logLine(LogLevel::kWarning,
              r.error().message + " (yet): XDP is attached to it when it appears");
    }
  }
  path->assignSlots();
  path->publishFigures();
  return path;
}

Result<void, AttachFailure> XdpPath::attach(Link& l) {
  const unsigned index = ::if_nametoindex(l.name.c_str());
  if (index == 0) {
    return Unexpected{AttachFailure{true, "xdp: " + l.name + ": the interface does not exist"}};
  }
  std::string native_failed;
  const std::vector<AttachMode> tries = triesOf(cfg_.mode);
  for (std::size_t t = 0; t < tries.size(); ++t) {
    const AttachMode m = tries[t];
    bpf_link_create_opts opts{};
    opts.sz = sizeof opts;
    opts.flags = flagsOf(m);
    const int fd =
        ::bpf_link_create(program_->programFd(), static_cast<int>(index), BPF_XDP, &opts);
    if (fd >= 0) {
      l.fd = fd;
      l.ifindex = static_cast<int>(index);
      l.mode = m;
      l.last_error.clear();
      logLine(LogLevel::kNotice, "xdp: " + l.name + ": attached in " + toString(m) + " mode" +
                                     (native_failed.empty() ? "" : " (" + native_failed + ")"));
      return {};
    }
    const int err = -fd;  // libbpf 1.x: -errno
    const std::string message = attachError(l.name, m, err);
    const bool fallback =
        m == AttachMode::kNative && t + 1 < tries.size() && (err == EOPNOTSUPP || err == EINVAL);
    if (!fallback) {
      return Unexpected{AttachFailure{err == ENODEV, message}};
    }
    native_failed =
        "native failed: the driver has no native XDP support, " + std::string(std::strerror(err));
  }
  return Unexpected{AttachFailure{false, "xdp: " + l.name + ": mode off"}};
}

void XdpPath::detach(Link& l) {
  if (l.fd >= 0) {
    ::close(l.fd);  // the link goes with its last fd: the program is detached
  }
  l.fd = -1;
  l.ifindex = 0;
  l.mode = AttachMode::kNone;
}

Result<std::string> XdpPath::reconfigure(const config::XdpConfig& cfg,
                                         const engine::ProtectionConfig& protection,
                                         bool services_changed) {
  if (services_changed) {
    if (auto r = program_->writeServiceMap(protection); !r) {
      return Unexpected{Error{"xdp: the service map: " + r.error().message}};
    }
  }
  const config::XdpConfig want = cfg.enabled() ? cfg : config::XdpConfig{{}, cfg.mode};
  if (want == cfg_) {
    return std::string(services_changed ? "xdp service map rewritten" : "");
  }
  readCounters();  // what the slots counted so far, to the interfaces that held them
  const bool mode_changed = want.mode != cfg_.mode;
  std::vector<Link> next;
  for (const std::string& name : want.interfaces) {
    const auto it =
        std::find_if(links_.begin(), links_.end(), [&](const Link& l) { return l.name == name; });
    if (it != links_.end()) {
      if (mode_changed) {
        detach(*it);
      }
      next.push_back(std::move(*it));
      it->fd = -1;  // moved: the old entry no longer owns it
      it->name.clear();
    } else {
      next.push_back(Link{name});
    }
  }
  for (Link& l : links_) {
    if (!l.name.empty()) {
      logLine(LogLevel::kNotice, "xdp: " + l.name + ": detached (no longer configured)");
    }
    detach(l);
  }
  links_ = std::move(next);
  cfg_ = want;
  std::vector<std::string> failed;
  for (Link& l : links_) {
    if (l.fd >= 0) {
      continue;
    }
    if (auto r = attach(l); !r) {
      l.last_error = r.error().message;
      logLine(r.error().missing ? LogLevel::kWarning : LogLevel::kError,
              r.error().message + " (retried every second)");
      failed.push_back(l.name);
    }
  }
  assignSlots();
  publishFigures();
  std::string what = "xdp on " + std::to_string(links_.size() - failed.size()) + " interface(s)";
  if (!failed.empty()) {
    what += ", not attached:";
    for (const std::string& f : failed) {
      what += " " + f;
    }
  }
  return what;
}

void XdpPath::refresh(const RefreshInputs& in, const std::vector<WorkerSnapshot>& workers) {
  StateInputs s;
  s.config = in.config;
  s.master_key = in.master_key;
  s.wall_now_ns = clockNs(CLOCK_REALTIME);
  s.wall_offset_ns = s.wall_now_ns - clockNs(CLOCK_MONOTONIC);
  s.check_source = in.check_source;
  s.ready = true;
  program_->writeState(s);
  const std::vector<ServiceState> rows = serviceStates(*in.config, workers);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    program_->writeService(i, rows[i]);
  }
}

bool XdpPath::checkLinks() {
  bool changed = false;
  for (Link& l : links_) {
    const int index = static_cast<int>(::if_nametoindex(l.name.c_str()));
    if (l.fd >= 0) {
      const int kernel = linkIfindex(l.fd);
      if (index == l.ifindex && kernel != 0) {
        continue;  // still there
      }
      logLine(LogLevel::kWarning,
              "xdp: " + l.name +
                  (index == 0 ? ": the interface went away"
                              : ": the interface was replaced (new index)") +
                  ": its link is closed; XDP is attached again when it is back");
      detach(l);
      changed = true;
    }
    if (index == 0 || cfg_.mode == config::XdpMode::kOff) {
      continue;
    }
    if (auto r = attach(l); !r) {
      if (r.error().message != l.last_error) {
        logLine(r.error().missing ? LogLevel::kWarning : LogLevel::kError, r.error().message);
        l.last_error = r.error().message;
      }
      continue;
    }
    changed = true;
    if (l.ever_attached) {
      ++l.reattaches;
      logLine(LogLevel::kNotice, "xdp: " + l.name + ": attached again (reattach " +
                                     std::to_string(l.reattaches) + ")");
    }
  }
  return changed;
}

void XdpPath::watch() {
  if (checkLinks()) {
    assignSlots();
  } else {
    readCounters();
  }
  publishFigures();
}

void XdpPath::readCounters() {
  for (std::size_t slot = 0; slot < slot_name_.size(); ++slot) {
    totals_.add(slot, slot_name_[slot], program_->counters(slot));
  }
}

void XdpPath::assignSlots() {
  readCounters();
  std::vector<int> indexes;
  std::vector<std::string> names;
  for (Link& l : links_) {
    if (l.fd >= 0) {
      l.ever_attached = true;
    }
    indexes.push_back(l.fd >= 0 ? l.ifindex : 0);
    names.push_back(l.name);
  }
  if (indexes == slot_ifindex_ && names == slot_name_) {
    return;
  }
  program_->setInterfaces(indexes);
  for (std::size_t slot = 0; slot < names.size(); ++slot) {
    totals_.rebase(slot, program_->counters(slot));
  }
  slot_ifindex_ = std::move(indexes);
  slot_name_ = std::move(names);
}

void XdpPath::publishFigures() {
  std::vector<InterfaceFigures> f;
  f.reserve(links_.size());
  for (const Link& l : links_) {
    f.push_back(InterfaceFigures{l.name, l.fd >= 0 ? l.mode : AttachMode::kNone,
                                 totals_.totals(l.name), l.reattaches});
  }
  const std::lock_guard<std::mutex> lock(figures_mutex_);
  figures_ = std::move(f);
}

std::vector<InterfaceFigures> XdpPath::figures() const {
  const std::lock_guard<std::mutex> lock(figures_mutex_);
  return figures_;
}

void XdpPath::stop() {
  program_->setReady(false);
  readCounters();
  for (Link& l : links_) {
    if (l.fd >= 0) {
      logLine(LogLevel::kInfo, "xdp: " + l.name + ": detached");
    }
    detach(l);
  }
  publishFigures();
}

}  // namespace synguard::daemon::xdp
