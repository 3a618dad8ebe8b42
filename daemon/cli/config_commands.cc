// The commands around a running daemon: check-config, status and cookie-key.
#include <net/if.h>
#include <unistd.h>

#include <iostream>
#include <string>

#include "config/loader.h"
#include "daemon/cli/commands.h"
#include "daemon/cli/status.h"
#include "daemon/inline/cookie_key_file.h"

namespace synguard::daemon {

int cmdCheckConfig(int argc, char** argv) {
  if (argc > 2) {
    std::cerr << "usage: synguard check-config [FILE]\n";
    return 2;
  }
  const std::string file = argc == 2 ? argv[1] : "/etc/synguard/synguard.yaml";
  const auto loaded = config::loadConfigFile(file);
  for (const auto& d : loaded.warnings) {
    std::cerr << d.toString() << "\n";
  }
  if (!loaded.ok()) {
    for (const auto& d : loaded.errors) {
      std::cerr << d.toString() << "\n";
    }
    return 1;
  }
  if (auto ok = engine::Engine::check(loaded.config->engine); !ok) {
    std::cerr << file << ": " << ok.error().message << "\n";
    return 1;
  }
  // A host fact, not the file's: a warning (the file may be checked on another machine, and
  // the daemon attaches an interface once it appears).
  for (const std::string& name : loaded.config->xdp.interfaces) {
    if (loaded.config->xdp.enabled() && ::if_nametoindex(name.c_str()) == 0) {
      std::cerr << file << ": warning: xdp.interfaces: '" << name
                << "' does not exist on this host (the daemon attaches XDP when it appears)\n";
    }
  }
  std::cout << file << ": ok, " << loaded.config->engine.protection.services.size()
            << " service(s)\n";
  return 0;
}

int cmdStatus(int argc, char** argv) {
  // status [--metrics ADDR:PORT] [--once|--watch]: refreshed on a terminal, one shot otherwise
  std::string listen = "127.0.0.1:9815";
  bool watch = ::isatty(STDOUT_FILENO) != 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--metrics" && i + 1 < argc) {
      listen = argv[++i];
    } else if (a == "--once") {
      watch = false;
    } else if (a == "--watch") {
      watch = true;
    } else {
      std::cerr << "usage: synguard status [--metrics ADDR:PORT] [--once|--watch]\n";
      return 2;
    }
  }
  return runStatus(listen, watch);
}

int cmdCookieKey(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: synguard cookie-key FILE\n";
    return 2;
  }
  auto k = loadOrCreateCookieKey(argv[1]);
  if (!k) {
    std::cerr << "synguard: " << k.error().message << "\n";
    return 1;
  }
  std::cout << argv[1] << ": " << (k->created ? "created a new key" : "key is valid") << "\n";
  return 0;
}

}  // namespace synguard::daemon
