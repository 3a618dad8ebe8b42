// synguard: SYN-flood defense for Linux gateways. main() only picks the command.
#include <iostream>
#include <string_view>

#include "daemon/cli/commands.h"
#include "daemon/cli/options.h"

namespace {

struct Command {
  std::string_view name;
  int (*run)(int argc, char** argv);
};

constexpr Command kCommands[] = {
    {"replay", synguard::daemon::cmdReplay}, {"tune", synguard::daemon::cmdTune},
    {"run", synguard::daemon::cmdRun},       {"check-config", synguard::daemon::cmdCheckConfig},
    {"status", synguard::daemon::cmdStatus}, {"cookie-key", synguard::daemon::cmdCookieKey},
};

}  // namespace

int main(int argc, char** argv) {
  using synguard::daemon::kUsage;
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string_view cmd = argv[1];
  for (const Command& c : kCommands) {
    if (cmd == c.name) {
      return c.run(argc - 1, argv + 1);
    }
  }
  if (cmd == "version" || cmd == "--version") {
    std::cout << "synguard " << SYNGUARD_VERSION << "\n";
    return 0;
  }
  if (cmd == "help" || cmd == "--help" || cmd == "-h") {
    std::cout << kUsage;
    return 0;
  }
  std::cerr << "synguard: unknown command '" << cmd << "'\n" << kUsage;
  return 2;
}
