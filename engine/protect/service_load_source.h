#pragma once

#include <cstddef>
#include <cstdint>

namespace synguard::engine {

/// Load on each service counted by *other* engines (a daemon with several queues runs one
/// engine per queue; a service's flows spread over them). The mode machine decides on the sum,
/// so every queue switches on the service's whole load. Implementations read what the other
/// workers published; they must not block.
class ServiceLoadSource {
 public:
  virtual ~ServiceLoadSource() = default;
  virtual void othersLoad(std::size_t service, std::uint32_t& half_open,
                          double& syn_rate) const noexcept = 0;
};

}  // namespace synguard::engine
