#include "daemon/inline/xdp/offload_feedback.h"

#include <cstdint>

namespace synguard::daemon::xdp {

namespace {

std::uint64_t increase(std::uint64_t now, std::uint64_t before) {
  return now >= before ? now - before : now;
}

}  // namespace

engine::OffloadedCounts OffloadFeedback::delta(std::size_t svc, const sg_xdp_svc_stats& total) {
  if (last_.size() <= svc) {
    last_.resize(svc + 1, sg_xdp_svc_stats{});
  }
  const sg_xdp_svc_stats before = last_[svc];
  last_[svc] = total;
  engine::OffloadedCounts d;
  d.syns_answered = increase(total.syns_answered, before.syns_answered);
  d.bytes_answered = increase(total.bytes_answered, before.bytes_answered);
  d.denied = increase(total.denied, before.denied);
  d.denied_bytes = increase(total.denied_bytes, before.denied_bytes);
  return d;
}

bool anything(const engine::OffloadedCounts& c) noexcept {
  return c.syns_answered != 0 || c.bytes_answered != 0 || c.denied != 0 || c.denied_bytes != 0;
}

}  // namespace synguard::daemon::xdp
