#pragma once

namespace synguard::daemon {

/// The subcommands; each takes its own argv (argv[0] is the command's name) and returns the
/// process's exit code.
int cmdRun(int argc, char** argv);
int cmdReplay(int argc, char** argv);
int cmdTune(int argc, char** argv);
int cmdCheckConfig(int argc, char** argv);
int cmdStatus(int argc, char** argv);
int cmdCookieKey(int argc, char** argv);

}  // namespace synguard::daemon
