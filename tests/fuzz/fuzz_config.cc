// libFuzzer: the YAML configuration loader on arbitrary text. Every input is either a valid
// configuration (which the engine then accepts) or one or more located diagnostics.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/loader.h"
#include "engine/engine.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);  // NOLINT
  const auto r = synguard::config::loadConfigString(text, "fuzz.yaml");
  if (r.ok() == !r.errors.empty()) {
    __builtin_trap();  // a result is a configuration or problems, never both or neither
  }
  for (const auto& d : r.errors) {
    if (d.message.empty() || d.line < 0 || d.column < 0) {
      __builtin_trap();
    }
  }
  if (r.ok() && !r.config->engine.protection.services.empty()) {
    // What the loader accepts, the engine must too (the daemon relies on it).
    if (!synguard::engine::Engine::check(r.config->engine)) {
      __builtin_trap();
    }
  }
  return 0;
}
