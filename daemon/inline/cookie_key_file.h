#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/protect/siphash.h"
#include "engine/result.h"

namespace synguard::daemon {

/// The SYN-cookie master key as read from (or written to) its file.
struct CookieKeyFile {
  engine::SipKey key;
  std::array<std::uint8_t, 16> bytes{};
  bool created = false;  ///< the file did not exist and was created
};

/// Reads the 128-bit master key for SYN cookies from `path`. If the file does not exist it is
/// created atomically with 16 bytes from getrandom(2): written to a temporary file in the same
/// directory (O_EXCL, mode 0600), fsync'd, linked to `path` (never replacing a file already
/// there: if another process created it meanwhile, that key is read and returned), then the
/// directory is fsync'd. No partial key is ever visible under `path`; a crash leaves at worst
/// a `.NAME.tmp.XXXXXX` file beside it, which is ignored. Gateways behind ECMP copy the same
/// file so they validate each other's cookies.
///
/// Format: optional '#' comment lines, then exactly 32 hex digits and an optional newline.
/// Refused: anything else, an all-zero key, a file that is not regular, and a file readable or
/// writable by group or others (a leaked key lets anyone forge cookies).
Result<CookieKeyFile> loadOrCreateCookieKey(const std::string& path);

/// Parses the file's text (exposed for tests).
Result<std::array<std::uint8_t, 16>> parseCookieKey(std::string_view text);

}  // namespace synguard::daemon
