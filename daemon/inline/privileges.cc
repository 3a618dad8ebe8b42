#include "daemon/inline/privileges.h"

#include <grp.h>
#include <pwd.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace synguard::daemon {

namespace {

Result<void> becomeUser(const std::string& user) {
  const passwd* pw = ::getpwnam(user.c_str());
  if (pw == nullptr) {
    return Unexpected{Error{"user '" + user + "' does not exist"}};
  }
  // Already that user (systemd's User= did it; setgroups would need CAP_SETGID): nothing
  // to change but the capabilities.
  const bool already = ::getuid() == pw->pw_uid && ::geteuid() == pw->pw_uid &&
                       ::getgid() == pw->pw_gid && ::getegid() == pw->pw_gid;
  if (already) {
    return {};
  }
  if (::prctl(PR_SET_KEEPCAPS, 1) != 0 || ::setgroups(0, nullptr) != 0 ||
      ::setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0 ||
      ::setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0) {
    return Unexpected{Error{std::string("cannot become '") + user + "': " + std::strerror(errno)}};
  }
  return {};
}

}  // namespace

Result<void> dropPrivileges(const std::string& user, bool keep_bpf) {
  if (!user.empty()) {
    if (auto r = becomeUser(user); !r) {
      return r;
    }
  }
  cap_t caps = cap_init();
  const cap_value_t keep[] = {CAP_NET_ADMIN, CAP_NET_RAW};
  cap_set_flag(caps, CAP_PERMITTED, 2, keep, CAP_SET);
  cap_set_flag(caps, CAP_EFFECTIVE, 2, keep, CAP_SET);
  cap_set_flag(caps, CAP_INHERITABLE, 2, keep, CAP_SET);
  if (keep_bpf) {
    const cap_value_t bpf[] = {CAP_BPF};
    cap_set_flag(caps, CAP_PERMITTED, 1, bpf, CAP_SET);
    cap_set_flag(caps, CAP_EFFECTIVE, 1, bpf, CAP_SET);
  }
  const int rc = cap_set_proc(caps);
  cap_free(caps);
  if (rc != 0) {
    return Unexpected{Error{std::string("cannot limit capabilities: ") + std::strerror(errno)}};
  }
  // Ambient too, so the iptables-nft-restore the rule fallback runs at stop keeps them.
  for (const cap_value_t c : keep) {
    if (cap_set_ambient(c, CAP_SET) != 0) {
      return Unexpected{
          Error{std::string("cannot keep capabilities for helpers: ") + std::strerror(errno)}};
    }
  }
  return {};
}

}  // namespace synguard::daemon
