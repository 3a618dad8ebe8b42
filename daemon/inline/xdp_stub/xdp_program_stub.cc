// TEMPORARY (issue #16): a stand-in for daemon/inline/xdp/xdp_program.cc, the XdpProgram the
// i16-bpf branch implements, so the daemon side builds and its unit tests run before that
// branch is merged. Built only when no `synguard::xdp` target exists (daemon/inline/
// CMakeLists.txt); delete this folder once the real program is merged. load() always fails.
#include "daemon/inline/xdp/xdp_program.h"

namespace synguard::daemon::xdp {

struct XdpProgram::Impl {};

sg_xdp_svc_action actionFor(const engine::ServiceConfig& sc, bool dry_run,
                            engine::ServiceMode mode) noexcept {
  if (sc.mode == engine::ProtectionMode::kOff) {
    return SG_XDP_SVC_PASS_OFF;
  }
  if (dry_run || sc.monitor) {
    return SG_XDP_SVC_PASS_MONITOR;
  }
  if (mode != engine::ServiceMode::kCookie) {
    return SG_XDP_SVC_PASS_NORMAL;
  }
  return SG_XDP_SVC_COOKIE;
}

Result<std::unique_ptr<XdpProgram>> XdpProgram::load(const Options& /*opts*/) {
  return Unexpected{
      Error{"this build has no XDP program (the stand-in of daemon/inline/xdp_stub)"}};
}

XdpProgram::~XdpProgram() = default;
int XdpProgram::programFd() const noexcept { return -1; }
void XdpProgram::writeState(const StateInputs& /*in*/) noexcept {}
void XdpProgram::setReady(bool /*ready*/) noexcept {}
Result<void> XdpProgram::writeServiceMap(const engine::ProtectionConfig& /*protection*/) {
  return {};
}
void XdpProgram::writeService(std::size_t /*svc*/, const ServiceState& /*s*/) noexcept {}
void XdpProgram::setInterfaces(std::span<const int> /*ifindexes*/) noexcept {}
void XdpProgram::setFixedWallNs(std::uint64_t /*ns*/) noexcept {}
Counters XdpProgram::counters(std::size_t /*slot*/) const noexcept { return {}; }
sg_xdp_svc_stats XdpProgram::serviceCounters(std::size_t /*svc*/) const noexcept { return {}; }
Result<XdpProgram::RunResult> XdpProgram::testRun(std::span<const std::uint8_t> /*frame*/,
                                                  std::uint32_t /*repeat*/,
                                                  int /*ingress_ifindex*/) const {
  return Unexpected{Error{"this build has no XDP program"}};
}

}  // namespace synguard::daemon::xdp
