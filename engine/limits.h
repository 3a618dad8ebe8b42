#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

/// Every bound that validation (config/validate.cc), the engine (Engine::check) and the daemon
/// (daemon/inline/run.cc, reload.cc) share: each is written once here, so a check that reports it
/// to the operator and the check that relies on it cannot drift apart. Bounds that only one of them
/// applies (an operator-facing sanity limit, say) stay next to their single check.
namespace synguard::engine {

/// Services a daemon protects: the per-worker load slots are sized for this many at start, so a
/// reload can add services up to it; validation refuses more so `check-config` says so.
inline constexpr std::size_t kMaxServices = 256;
/// Ticks are wrapping milliseconds compared by signed difference: every timeout stays well under
/// 2^31 ms (24.8 days).
inline constexpr std::chrono::milliseconds kMaxTimeout = std::chrono::hours(24 * 20);
/// A cookie's MSS index has 3 bits (protect/syn_cookie.h): at most 8 values in an MSS table.
inline constexpr std::size_t kMaxMssValues = 8;
/// A cookie keeps 5 bits of its time counter (protect/syn_cookie.h): ages up to 31 windows.
inline constexpr std::uint32_t kMaxCookieAgeWindows = 31;
/// Slot indices are 32-bit with 0xffffffff meaning none (track/connection.h kNoIndex), and the
/// capacity is rounded up to a power of two: 2^31 is the largest table.
inline constexpr std::size_t kMaxTableCapacity = std::size_t{1} << 31;
/// Proxied connections: the proxy table is allocated whole at start, and 2^26 entries bound what a
/// typo can allocate.
inline constexpr std::size_t kMaxProxyCapacity = std::size_t{1} << 26;
/// Queues a daemon opens (regular and SYN queues, one each per worker): more than any gateway's
/// cores need, and both ranges of queue numbers must fit in 16 bits.
inline constexpr std::uint16_t kMaxQueues = 64;

}  // namespace synguard::engine
