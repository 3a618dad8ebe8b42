#pragma once

#include <cstdint>

#include "engine/protect/siphash.h"

namespace synguard::engine {

/// The engine's secrets, injected at Engine::create() beside its configuration rather than in it,
/// so that the copies a configuration goes through (a reload, `check-config`, logs of what
/// changed) never carry them. The daemon draws them: the master key from the key file, the seed
/// from getentropy(). Fixed for an engine's life: a reload keeps them.
///
/// (Not `CookieKeys`: that name is the per-period key pair derived from the master key,
/// protect/syn_cookie.h.)
struct Secrets {
  /// SYN-cookie master key: every rotation period's cookie key is derived from it
  /// (deriveCookieKey), so gateways that share the key file rotate together without talking.
  SipKey master_key;
  /// Keys the connection table's and the half-open accounting's hashes, so an attacker cannot
  /// aim spoofed tuples at one bucket.
  std::uint64_t hash_seed = 0;
};

}  // namespace synguard::engine
