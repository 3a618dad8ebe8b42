#include "daemon/inline/cookie_key_file.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace synguard::daemon {

namespace {

Error sysError(const std::string& path, const char* what) {
  return Error{path + ": " + what + ": " + std::strerror(errno)};
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

/// Closes a descriptor on every path out.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

Result<std::array<std::uint8_t, 16>> readKey(const std::string& path) {
  const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0 && errno == ELOOP) {
    return Unexpected{Error{path + ": the cookie key file is a symbolic link (refused: name the "
                                   "file itself)"}};
  }
  if (fd.get() < 0) {
    return Unexpected{sysError(path, "cannot open the cookie key file")};
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return Unexpected{sysError(path, "cannot stat the cookie key file")};
  }
  if (!S_ISREG(st.st_mode)) {
    return Unexpected{Error{path + ": the cookie key file is not a regular file"}};
  }
  if ((st.st_mode & 077) != 0) {
    return Unexpected{Error{path +
                            ": the cookie key file is accessible to group or others (a leaked "
                            "key lets anyone forge SYN cookies): chmod 600 it"}};
  }
  if (st.st_size > 4096) {
    return Unexpected{Error{path + ": the cookie key file is too large to be a key"}};
  }
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return Unexpected{sysError(path, "cannot read the cookie key file")};
    }
    if (n == 0) {
      break;
    }
    got += static_cast<std::size_t>(n);
  }
  text.resize(got);
  auto key = parseCookieKey(text);
  if (!key) {
    return Unexpected{Error{path + ": " + key.error().message}};
  }
  return *key;
}

Result<void> fillRandom(std::array<std::uint8_t, 16>& out) {
  std::size_t got = 0;
  while (got < out.size()) {
    const ssize_t n = ::getrandom(out.data() + got, out.size() - got, 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return Unexpected{Error{std::string("getrandom: ") + std::strerror(errno)}};
    }
    got += static_cast<std::size_t>(n);
  }
  return {};
}

}  // namespace

Result<std::array<std::uint8_t, 16>> parseCookieKey(std::string_view text) {
  // Skip comment lines.
  while (!text.empty() && text.front() == '#') {
    const auto nl = text.find('\n');
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
  }
  if (!text.empty() && text.back() == '\n') {
    text.remove_suffix(1);
  }
  std::size_t digits = 0;
  for (const char c : text) {
    if (hexValue(c) < 0) {
      break;
    }
    ++digits;
  }
  if (digits != text.size()) {
    return Unexpected{Error{"expected 32 hex digits, found a character that is not one"}};
  }
  if (digits != 32) {
    return Unexpected{Error{"expected 32 hex digits, found " + std::to_string(digits)}};
  }
  std::array<std::uint8_t, 16> key{};
  bool zero = true;
  for (std::size_t i = 0; i < 16; ++i) {
    key[i] = static_cast<std::uint8_t>((hexValue(text[2 * i]) << 4) | hexValue(text[2 * i + 1]));
    zero = zero && key[i] == 0;
  }
  if (zero) {
    return Unexpected{Error{"the key is all zeros"}};
  }
  return key;
}

namespace {

/// Writes all of `text` to `fd`.
bool writeAll(int fd, const std::string& text) {
  std::size_t put = 0;
  while (put < text.size()) {
    const ssize_t n = ::write(fd, text.data() + put, text.size() - put);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    put += static_cast<std::size_t>(n);
  }
  return true;
}

/// Gives the complete, synced temporary file its final name, never replacing a file already
/// there (EEXIST then): a hard link, or where the file system has none, rename with
/// RENAME_NOREPLACE.
int publishNoReplace(const std::string& tmp, const std::string& path) {
  if (::link(tmp.c_str(), path.c_str()) == 0) {
    return 0;
  }
  if (errno != EPERM && errno != ENOTSUP && errno != EOPNOTSUPP && errno != EMLINK) {
    return -1;
  }
  return ::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE);
}

}  // namespace

Result<CookieKeyFile> loadOrCreateCookieKey(const std::string& path) {
  CookieKeyFile out;
  const auto readExisting = [&]() -> Result<CookieKeyFile> {
    auto key = readKey(path);
    if (!key) {
      return Unexpected{key.error()};
    }
    out.bytes = *key;
    out.key = engine::SipKey::fromBytes(out.bytes);
    return out;
  };
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    return readExisting();  // refused there if it is not a regular file of ours
  }
  if (errno != ENOENT) {
    return Unexpected{sysError(path, "cannot stat the cookie key file")};
  }
  // Created atomically: the key is written to a temporary file in the same directory
  // (O_EXCL, 0600), synced, then linked to its name, which never replaces a key already there
  // (another instance's, created a moment ago: that one is read instead), and the directory is
  // synced. No partial file is ever visible under the name; a crash leaves at worst a
  // ".NAME.tmp.XXXXXX" file beside it, which nothing reads.
  const auto slash = path.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  std::string tmp = (slash == std::string::npos ? std::string() : path.substr(0, slash + 1)) + "." +
                    base + ".tmp.XXXXXX";
  const int fd = ::mkostemp(tmp.data(), O_CLOEXEC);  // O_CREAT | O_EXCL, mode 0600
  if (fd < 0) {
    return Unexpected{sysError(path, "cannot create the cookie key file")};
  }
  const Fd guard(fd);
  const auto failed = [&](Error e) -> Result<CookieKeyFile> {
    ::unlink(tmp.c_str());
    return Unexpected{std::move(e)};
  };
  if (::fchmod(fd, 0600) != 0) {  // mkostemp's mode, whatever the umask said
    return failed(sysError(path, "cannot create the cookie key file"));
  }
  if (auto r = fillRandom(out.bytes); !r) {
    return failed(Error{path + ": " + r.error().message});
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text =
      "# synguard SYN-cookie master key: 128 bits, hex. Share this file between gateways "
      "behind ECMP.\n";
  for (const std::uint8_t b : out.bytes) {
    text.push_back(kHex[b >> 4]);
    text.push_back(kHex[b & 0xf]);
  }
  text.push_back('\n');
  if (!writeAll(fd, text)) {
    return failed(sysError(path, "cannot write the cookie key file"));
  }
  // The key must survive a crash: cookies handed out before it would not validate after.
  if (::fsync(fd) != 0) {
    return failed(sysError(path, "cannot sync the cookie key file"));
  }
  if (publishNoReplace(tmp, path) != 0) {
    if (errno == EEXIST) {
      ::unlink(tmp.c_str());
      return readExisting();  // another instance created it meanwhile: theirs counts
    }
    return failed(sysError(path, "cannot create the cookie key file"));
  }
  ::unlink(tmp.c_str());  // after a rename: already gone (ENOENT), harmless
  const Fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.get() < 0 || (::fsync(dfd.get()) != 0 && errno != EINVAL)) {  // EINVAL: not supported
    // The key is in place and used; only its durability across a power loss is in doubt.
    return Unexpected{sysError(dir, "cannot sync the cookie key file's directory")};
  }
  out.key = engine::SipKey::fromBytes(out.bytes);
  out.created = true;
  return out;
}

}  // namespace synguard::daemon
