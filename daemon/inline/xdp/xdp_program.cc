#include "daemon/inline/xdp/xdp_program.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "daemon/inline/xdp/synguard_xdp.skel.h"
#include "engine/packet/ip_address.h"
#include "engine/protect/protection.h"

namespace synguard::daemon::xdp {

namespace {

/// libbpf's messages while one load() runs: kept for the error message (the verifier's log
/// tail says why a program was refused). libbpf's print hook is process-wide, hence the lock.
std::mutex g_log_mutex;
std::string* g_log = nullptr;

int captureLibbpf(libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG || g_log == nullptr) {
    return 0;
  }
  std::array<char, 1024> line{};
  const int n = std::vsnprintf(line.data(), line.size(), fmt, args);  // NOLINT(cert-err33-c)
  if (n > 0) {
    g_log->append(line.data(), std::min(static_cast<std::size_t>(n), line.size() - 1));
  }
  return n;
}

/// Installs the capture for its lifetime (and libbpf's silence after it: the daemon logs).
class LibbpfLog {
 public:
  LibbpfLog() : lock_(g_log_mutex) {
    g_log = &text_;
    libbpf_set_print(captureLibbpf);
  }
  ~LibbpfLog() { g_log = nullptr; }
  LibbpfLog(const LibbpfLog&) = delete;
  LibbpfLog& operator=(const LibbpfLog&) = delete;
  LibbpfLog(LibbpfLog&&) = delete;
  LibbpfLog& operator=(LibbpfLog&&) = delete;
  /// The last lines, enough for the verifier's verdict.
  std::string tail() const {
    constexpr std::size_t kKeep = 1500;
    return text_.size() <= kKeep ? text_ : "..." + text_.substr(text_.size() - kKeep);
  }

 private:
  std::lock_guard<std::mutex> lock_;
  std::string text_;
};

std::string loadError(const char* step, int err, const LibbpfLog& log) {
  std::string msg = std::string("XDP program: ") + step + " failed: " + std::strerror(err);
  if (err == EPERM || err == EACCES) {
    msg += " (needs CAP_BPF and CAP_NET_ADMIN, or root)";
  } else if (err == ENOSYS || err == EINVAL || err == EOPNOTSUPP) {
    msg += " (the kernel lacks BPF/XDP support, or refused the program)";
  }
  if (const std::string t = log.tail(); !t.empty()) {
    msg += "; libbpf: " + t;
  }
  return msg;
}

/// An LPM key (xdp_abi.h: IPv4 as ::ffff:a.b.c.d) as a map key in the loader's own maps.
using KeyBytes = std::array<std::uint8_t, sizeof(sg_xdp_lpm_key)>;

struct Prefix {
  std::array<std::uint8_t, 16> addr{};  ///< IPv4-mapped for IPv4
  unsigned len = 0;                     ///< 0..128 in the mapped space
  bool v4 = false;
};

/// IPv4's 0.0.0.0/0 in the map's space: ::ffff:0:0/96.
constexpr Prefix kAllV4{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0}, 96, true};

KeyBytes keyOf(const Prefix& p) {
  sg_xdp_lpm_key k{};
  k.prefixlen = p.len;
  std::memcpy(k.addr, p.addr.data(), p.addr.size());
  KeyBytes b{};
  std::memcpy(b.data(), &k, sizeof(k));
  return b;
}

/// Whether `outer`'s bits contain `inner`'s (every address of inner is in outer), whatever
/// their families.
bool coversBits(const Prefix& outer, const Prefix& inner) {
  if (outer.len > inner.len) {
    return false;
  }
  const unsigned full = outer.len / 8;
  if (std::memcmp(outer.addr.data(), inner.addr.data(), full) != 0) {
    return false;
  }
  const unsigned rest = outer.len % 8;
  if (rest == 0) {
    return true;
  }
  const auto mask = static_cast<std::uint8_t>(0xffU << (8 - rest));
  return (outer.addr[full] & mask) == (inner.addr[full] & mask);
}

/// As the engine's PrefixSet sees it: an IPv6 prefix never holds IPv4 addresses (::/0 included).
bool containsPrefix(const Prefix& outer, const Prefix& inner) {
  return outer.v4 == inner.v4 && coversBits(outer, inner);
}

/// Whether an IPv6 prefix of `ps` covers the IPv4-mapped space: the map then needs a stop at
/// ::ffff:0:0/96, or IPv4 lookups would end at that IPv6 prefix.
bool needsV4Stop(const std::vector<Prefix>& ps) {
  return std::any_of(ps.begin(), ps.end(),
                     [](const Prefix& p) { return !p.v4 && coversBits(p, kAllV4); });
}

/// The prefixes of a set, from its text form ("a.b.c.d/len", "x::/len").
Result<std::vector<Prefix>> prefixesOf(const engine::PrefixSet& set) {
  std::vector<Prefix> out;
  for (const bool v4 : {true, false}) {
    for (const std::string& cidr : set.cidrs(v4)) {
      const std::size_t slash = cidr.find('/');
      const auto addr = engine::IpAddress::parse(std::string_view(cidr).substr(0, slash));
      if (!addr) {
        return Unexpected{Error{"XDP: cannot read prefix '" + cidr + "'"}};
      }
      Prefix p;
      p.addr = addr->bytes();
      const unsigned len = slash == std::string::npos
                               ? (v4 ? 32U : 128U)
                               : static_cast<unsigned>(std::stoul(cidr.substr(slash + 1)));
      p.len = v4 ? len + 96 : len;
      p.v4 = v4;
      out.push_back(p);
    }
  }
  return out;
}

/// Makes `map` hold exactly `want`: new and changed entries written first, then the entries no
/// longer wanted deleted (a lookup never misses a prefix kept across the rewrite).
Result<void> syncMap(bpf_map* map, const std::map<KeyBytes, std::vector<std::uint8_t>>& want,
                     const char* name) {
  const int fd = bpf_map__fd(map);
  for (const auto& [key, value] : want) {
    if (bpf_map_update_elem(fd, key.data(), value.data(), BPF_ANY) != 0) {
      return Unexpected{Error{std::string("XDP: writing map ") + name +
                              " failed: " + std::strerror(errno) +
                              (errno == ENOMEM || errno == E2BIG ? " (too many prefixes)" : "")}};
    }
  }
  std::vector<KeyBytes> stale;
  KeyBytes cur{};
  KeyBytes next{};
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, next.data()) == 0) {
    if (want.find(next) == want.end()) {
      stale.push_back(next);
    }
    cur = next;
    prev = cur.data();
  }
  for (const KeyBytes& k : stale) {
    bpf_map_delete_elem(fd, k.data());  // NOLINT(bugprone-unused-return-value): gone is gone
  }
  return {};
}

}  // namespace

struct XdpProgram::Impl {
  synguard_xdp* skel = nullptr;
  int ncpus = 1;
  ~Impl() {
    if (skel != nullptr) {
      synguard_xdp__destroy(skel);
    }
  }
  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  Impl(Impl&&) = delete;
  Impl& operator=(Impl&&) = delete;
};

sg_xdp_svc_action actionFor(const engine::ServiceConfig& sc, bool dry_run,
                            engine::ServiceMode mode) noexcept {
  if (sc.mode == engine::ProtectionMode::kOff) {
    return SG_XDP_SVC_PASS_OFF;
  }
  if (sc.monitor || dry_run) {
    return SG_XDP_SVC_PASS_MONITOR;
  }
  if (mode != engine::ServiceMode::kCookie) {
    return SG_XDP_SVC_PASS_NORMAL;
  }
  if (sc.per_source.syn_rate != 0) {
    return SG_XDP_SVC_PASS_LIMITS;
  }
  return SG_XDP_SVC_COOKIE;
}

Result<std::unique_ptr<XdpProgram>> XdpProgram::load(const Options& opts) {
  const LibbpfLog log;
  std::unique_ptr<XdpProgram> prog(new XdpProgram());
  prog->impl_ = std::make_unique<Impl>();
  Impl& impl = *prog->impl_;
  impl.skel = synguard_xdp__open();
  if (impl.skel == nullptr) {
    return Unexpected{Error{loadError("open", errno, log)}};
  }
  impl.skel->rodata->sg_fixed_clock = opts.fixed_clock ? 1 : 0;
  const auto cap = static_cast<__u32>(std::max<std::size_t>(opts.lpm_capacity, 1));
  for (bpf_map* m :
       {impl.skel->maps.sg_services, impl.skel->maps.sg_allow, impl.skel->maps.sg_deny}) {
    if (const int err = bpf_map__set_max_entries(m, cap); err != 0) {
      return Unexpected{Error{loadError("sizing the maps", -err, log)}};
    }
  }
  if (const int err = synguard_xdp__load(impl.skel); err != 0) {
    return Unexpected{Error{loadError("load", -err, log)}};
  }
  impl.ncpus = std::max(libbpf_num_possible_cpus(), 1);
  return prog;
}

XdpProgram::~XdpProgram() = default;

int XdpProgram::programFd() const noexcept {
  return bpf_program__fd(impl_->skel->progs.synguard_xdp);
}

void XdpProgram::writeState(const StateInputs& in) noexcept {
  auto* bss = impl_->skel->bss;
  const std::uint32_t active = __atomic_load_n(&bss->sg_active, __ATOMIC_ACQUIRE) & 1U;
  sg_xdp_state& s = bss->sg_state[active ^ 1U];
  s = sg_xdp_state{};
  const engine::ProtectionConfig& p = in.config->protection;
  const auto rotation =
      static_cast<std::uint64_t>(std::max<std::int64_t>(p.key_rotation.count(), 1));
  const auto wall_s =
      static_cast<std::uint64_t>(std::max<std::int64_t>(in.wall_now_ns, 0)) / 1'000'000'000ULL;
  const std::uint64_t period = wall_s / rotation;
  s.wall_offset_ns = in.wall_offset_ns;
  s.key_period = period;
  for (std::size_t i = 0; i < 2; ++i) {
    const engine::SipKey k = engine::deriveCookieKey(in.master_key, period + i);
    s.keys[i] = sg_xdp_key{k.k0, k.k1};
  }
  s.cookie_window_s = static_cast<__u32>(std::max<std::int64_t>(p.cookies.window.count(), 1));
  s.key_rotation_s = static_cast<__u32>(rotation);
  s.mss_v4_n = static_cast<__u8>(std::min<std::size_t>(p.cookies.v4.size, SG_XDP_MAX_MSS));
  s.mss_v6_n = static_cast<__u8>(std::min<std::size_t>(p.cookies.v6.size, SG_XDP_MAX_MSS));
  for (std::size_t i = 0; i < SG_XDP_MAX_MSS; ++i) {
    s.mss_v4[i] = p.cookies.v4.values[i];
    s.mss_v6[i] = p.cookies.v6.values[i];
  }
  s.zero_window = p.proxy.hold_with_zero_window ? 1 : 0;
  s.check_source = in.check_source ? 1 : 0;
  s.has_deny = p.deny.empty() ? 0 : 1;
  s.has_allow = p.allow.empty() ? 0 : 1;
  s.ready = in.ready && s.mss_v4_n > 0 && s.mss_v6_n > 0 ? 1 : 0;
  __atomic_store_n(&bss->sg_active, active ^ 1U, __ATOMIC_RELEASE);
}

void XdpProgram::setReady(bool ready) noexcept {
  auto* bss = impl_->skel->bss;
  for (sg_xdp_state& s : bss->sg_state) {
    __atomic_store_n(&s.ready, static_cast<__u8>(ready ? 1 : 0), __ATOMIC_RELEASE);
  }
}

Result<void> XdpProgram::writeServiceMap(const engine::ProtectionConfig& protection) {
  // Every service's prefixes; the value of a prefix lists the port rows of every service (in
  // configuration order) with a prefix containing it: for the longest prefix holding an address,
  // those are exactly the services holding the address, so the first row whose ports match is
  // ServiceMap::find's answer.
  std::vector<std::vector<Prefix>> svc_prefixes;
  svc_prefixes.reserve(protection.services.size());
  for (const engine::ServiceConfig& sc : protection.services) {
    auto ps = prefixesOf(sc.addresses);
    if (!ps) {
      return Unexpected{ps.error()};
    }
    svc_prefixes.push_back(std::move(*ps));
  }
  std::map<KeyBytes, std::vector<std::uint8_t>> services;
  std::vector<Prefix> keys;
  for (const std::vector<Prefix>& list : svc_prefixes) {
    keys.insert(keys.end(), list.begin(), list.end());
  }
  if (needsV4Stop(keys)) {
    keys.push_back(kAllV4);  // its rows: the services holding all of IPv4, if any
  }
  for (const Prefix& key : keys) {
    const KeyBytes kb = keyOf(key);
    if (services.contains(kb)) {
      continue;
    }
    sg_xdp_svc_list v{};
    for (std::size_t j = 0; j < svc_prefixes.size() && j < SG_XDP_MAX_SERVICES; ++j) {
      const bool holds = std::any_of(svc_prefixes[j].begin(), svc_prefixes[j].end(),
                                     [&](const Prefix& p) { return containsPrefix(p, key); });
      if (!holds) {
        continue;
      }
      for (const engine::PortRange& r : protection.services[j].ports) {
        if (v.n == SG_XDP_MAX_PER_PREFIX) {
          v.overflow = 1;
          break;
        }
        v.rows[v.n++] = sg_xdp_port_svc{r.first, r.last, static_cast<__u16>(j), 0};
      }
    }
    std::vector<std::uint8_t> bytes(sizeof(v));
    std::memcpy(bytes.data(), &v, sizeof(v));
    services.emplace(kb, std::move(bytes));
  }
  if (auto r = syncMap(impl_->skel->maps.sg_services, services, "sg_services"); !r) {
    return r;
  }
  const auto listMap =
      [](const engine::PrefixSet& set) -> Result<std::map<KeyBytes, std::vector<std::uint8_t>>> {
    auto ps = prefixesOf(set);
    if (!ps) {
      return Unexpected{ps.error()};
    }
    std::map<KeyBytes, std::vector<std::uint8_t>> m;
    for (const Prefix& p : *ps) {
      m.emplace(keyOf(p), std::vector<std::uint8_t>{1});
    }
    if (needsV4Stop(*ps)) {
      m.emplace(keyOf(kAllV4), std::vector<std::uint8_t>{0});  // kept if 0.0.0.0/0 is listed
    }
    return m;
  };
  auto allow = listMap(protection.allow);
  if (!allow) {
    return Unexpected{allow.error()};
  }
  if (auto r = syncMap(impl_->skel->maps.sg_allow, *allow, "sg_allow"); !r) {
    return r;
  }
  auto deny = listMap(protection.deny);
  if (!deny) {
    return Unexpected{deny.error()};
  }
  return syncMap(impl_->skel->maps.sg_deny, *deny, "sg_deny");
}

void XdpProgram::writeService(std::size_t svc, const ServiceState& s) noexcept {
  if (svc >= SG_XDP_MAX_SERVICES) {
    return;
  }
  sg_xdp_service row{};
  row.action = static_cast<__u8>(s.action);
  row.deny_drop = s.deny_drop ? 1 : 0;
  row.has_wscale = s.profile.has_wscale ? 1 : 0;
  row.wscale = std::min<std::uint8_t>(s.profile.wscale, 14);
  row.sack = s.profile.sack_permitted ? 1 : 0;
  row.timestamps = s.profile.timestamps ? 1 : 0;
  row.ecn = s.profile.ecn ? 1 : 0;
  row.mss_v4 = s.profile.mss != 0 ? s.profile.mss : s.default_mss_v4;
  row.mss_v6 = s.profile.mss != 0 ? s.profile.mss : s.default_mss_v6;
  impl_->skel->bss->sg_svc[svc] = row;
}

void XdpProgram::setInterfaces(std::span<const int> ifindexes) noexcept {
  auto* bss = impl_->skel->bss;
  const std::size_t n = std::min<std::size_t>(ifindexes.size(), SG_XDP_MAX_IFACES);
  __atomic_store_n(&bss->sg_nifaces, 0U, __ATOMIC_RELEASE);
  for (std::size_t i = 0; i < SG_XDP_MAX_IFACES; ++i) {
    bss->sg_ifindex[i] = i < n ? static_cast<__u32>(ifindexes[i]) : 0U;
  }
  __atomic_store_n(&bss->sg_nifaces, static_cast<__u32>(n), __ATOMIC_RELEASE);
}

void XdpProgram::setFixedWallNs(std::uint64_t ns) noexcept {
  __atomic_store_n(&impl_->skel->bss->sg_fixed_wall_ns, ns, __ATOMIC_RELEASE);
}

Counters XdpProgram::counters(std::size_t slot) const noexcept {
  Counters out{};
  if (slot > SG_XDP_MAX_IFACES) {
    return out;
  }
  const int fd = bpf_map__fd(impl_->skel->maps.sg_if_stats);
  std::vector<std::uint64_t> per_cpu(static_cast<std::size_t>(impl_->ncpus));
  for (std::size_t c = 0; c < SG_XDP_NCOUNTERS; ++c) {
    const auto key = static_cast<__u32>(slot * SG_XDP_NCOUNTERS + c);
    if (bpf_map_lookup_elem(fd, &key, per_cpu.data()) == 0) {
      for (const std::uint64_t v : per_cpu) {
        out[c] += v;
      }
    }
  }
  return out;
}

sg_xdp_svc_stats XdpProgram::serviceCounters(std::size_t svc) const noexcept {
  sg_xdp_svc_stats out{};
  if (svc >= SG_XDP_MAX_SERVICES) {
    return out;
  }
  const int fd = bpf_map__fd(impl_->skel->maps.sg_svc_stats);
  std::vector<sg_xdp_svc_stats> per_cpu(static_cast<std::size_t>(impl_->ncpus));
  const auto key = static_cast<__u32>(svc);
  if (bpf_map_lookup_elem(fd, &key, per_cpu.data()) == 0) {
    for (const sg_xdp_svc_stats& v : per_cpu) {
      out.syns_answered += v.syns_answered;
      out.bytes_answered += v.bytes_answered;
      out.denied += v.denied;
      out.denied_bytes += v.denied_bytes;
      out.denied_syns += v.denied_syns;
    }
  }
  return out;
}

Result<XdpProgram::RunResult> XdpProgram::testRun(std::span<const std::uint8_t> frame,
                                                  std::uint32_t repeat, int ingress_ifindex) const {
  RunResult res;
  // Room for the frame grown by bpf_xdp_adjust_tail.
  res.out.resize(frame.size() + 4096);
  bpf_test_run_opts o{};
  o.sz = sizeof(o);
  o.data_in = frame.data();
  o.data_size_in = static_cast<__u32>(frame.size());
  o.data_out = res.out.data();
  o.data_size_out = static_cast<__u32>(res.out.size());
  o.repeat = repeat;
  xdp_md ctx{};
  if (ingress_ifindex != 0) {
    ctx.ingress_ifindex = static_cast<__u32>(ingress_ifindex);
    ctx.data_end = static_cast<__u32>(frame.size());  // the kernel wants the frame's end
    o.ctx_in = &ctx;
    o.ctx_size_in = sizeof(ctx);
  }
  if (const int err = bpf_prog_test_run_opts(programFd(), &o); err != 0) {
    return Unexpected{Error{std::string("BPF_PROG_TEST_RUN failed: ") + std::strerror(-err)}};
  }
  res.action = o.retval;
  res.out.resize(o.data_size_out);
  res.duration_ns = o.duration;
  return res;
}

}  // namespace synguard::daemon::xdp
