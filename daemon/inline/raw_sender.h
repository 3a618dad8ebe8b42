#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/packet_sink.h"
#include "engine/result.h"

namespace synguard::daemon {

struct RawSenderStats {
  std::uint64_t queued = 0;
  std::uint64_t sent = 0;
  std::uint64_t send_calls = 0;
  std::uint64_t errors = 0;      ///< packets the kernel refused (no route, EMSGSIZE, ...)
  std::uint64_t overflowed = 0;  ///< packets that did not fit the batch (flushed early)
};

/// The engine's packet sink on a gateway: raw IPv4 and IPv6 sockets (IPPROTO_RAW, headers
/// written by the engine) that send the packets the engine emits — cookie SYN-ACKs, the proxy's
/// SYN and ACK, window updates, RSTs — batched with sendmmsg() once per NFQUEUE batch. Every
/// packet carries `mark` (SO_MARK) so synguard's own rules neither queue it back (no loop) nor
/// let conntrack track it.
class RawSender : public engine::PacketSink {
 public:
  static Result<std::unique_ptr<RawSender>> open(std::uint32_t mark, std::size_t batch = 256);
  ~RawSender() override;
  RawSender(const RawSender&) = delete;
  RawSender& operator=(const RawSender&) = delete;

  void emit(engine::Direction dir, std::span<const std::byte> ip_packet) noexcept override;
  /// The next slot of the family's batch (flushing a full batch first): the engine writes its
  /// SYN-ACKs there, without a copy.
  std::span<std::byte> reserve(bool ipv6, std::size_t max) noexcept override;
  void commit(engine::Direction dir, std::size_t length) noexcept override;
  /// Sends everything emitted since the last flush.
  void flush() noexcept;
  const RawSenderStats& stats() const noexcept { return stats_; }

 private:
  RawSender() = default;
  void flushFamily(int fd, bool v6) noexcept;

  int fd4_ = -1;
  int fd6_ = -1;
  std::size_t batch_ = 0;
  bool reserved_v6_ = false;                        ///< the family of the last reserve()
  static constexpr std::size_t kSlot = 2048 + 128;  ///< early data segments are at most 2 KiB
  std::vector<std::byte> buf4_;
  std::vector<std::byte> buf6_;
  std::vector<std::size_t> len4_;
  std::vector<std::size_t> len6_;
  std::vector<struct mmsghdr> msgs_;
  std::vector<struct iovec> iov_;
  std::vector<struct sockaddr_in> dst4_;
  std::vector<struct sockaddr_in6> dst6_;
  RawSenderStats stats_;
};

}  // namespace synguard::daemon
