#pragma once

#include <cstdint>

#include "engine/protect/siphash.h"
#include "engine/secrets.h"

namespace synguard::testing {

/// The hash seed every test engine has run with (2^64 / φ; it was EngineConfig's default before
/// the seed became a secret given to Engine::create), so hash-dependent orders stay as they were.
inline constexpr std::uint64_t kTestHashSeed = 0x9e3779b97f4a7c15ULL;

/// Secrets for a test engine: `master` as the SYN-cookie master key and the fixed test seed.
constexpr engine::Secrets testSecrets(engine::SipKey master = {}) {
  return engine::Secrets{.master_key = master, .hash_seed = kTestHashSeed};
}

}  // namespace synguard::testing
