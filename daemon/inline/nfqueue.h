#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "engine/result.h"

struct mnl_socket;

namespace synguard::daemon {

/// One packet handed over by the kernel. `data` points into the queue's receive buffers and is
/// valid until the next receive(); the engine may rewrite it in place.
struct QueuedPacket {
  std::uint32_t id = 0;
  std::span<std::byte> data;
  std::uint32_t wire_length = 0;  ///< the packet's real length (more than data when cut)
  bool checksum_partial = false;  ///< NFQA_SKB_CSUMNOTREADY
  /// NFQA_SKB_CSUM_NOTVERIFIED: no NIC or earlier layer has checked the TCP checksum.
  bool checksum_unverified = false;
  bool gso = false;  ///< NFQA_SKB_GSO: an aggregated packet, taken whole
};

struct NfQueueStats {
  std::uint64_t packets = 0;
  std::uint64_t receive_calls = 0;
  std::uint64_t enobufs = 0;  ///< the socket buffer overflowed: the kernel dropped messages
  std::uint64_t receive_errors = 0;
  std::uint64_t bad_messages = 0;
  std::uint64_t verdicts = 0;
  std::uint64_t verdict_batches = 0;  ///< NFQNL_MSG_VERDICT_BATCH messages (one per uniform batch)
  std::uint64_t verdict_sends = 0;    ///< sendto() calls carrying verdicts
  std::uint64_t verdict_errors = 0;
  std::uint64_t rewritten = 0;
  /// Packets the kernel let through without us: gaps in the queue's packet ids. With
  /// NFQA_CFG_F_FAIL_OPEN a full queue or a full socket buffer accepts the packet instead of
  /// dropping it, and the kernel counts that nowhere (not in queue_dropped or user_dropped).
  std::uint64_t failed_open = 0;
  /// Packets dropped because their verdict could not carry them (a rewritten copy too big for
  /// a netlink attribute, or a refused send): their senders retransmit.
  std::uint64_t verdict_fallback_drops = 0;
  std::uint64_t config_errors = 0;      ///< setFailOpen() refused by the kernel
  std::uint64_t fail_open_changes = 0;  ///< setFailOpen() calls that changed the flag
  /// Packets already queued while the queue was being configured (the rules were in place, as
  /// on a restart under a flood): handed back with NF_REPEAT and queued again, whole.
  std::uint64_t requeued_at_setup = 0;
};

/// An NFQUEUE queue through libnetfilter_queue's libmnl API: bound with fail-open (the kernel
/// accepts packets when the queue is full; Options::fail_open, setFailOpen) and GSO (aggregated
/// packets arrive whole), copying whole packets. Packets are received several per system call
/// (recvmmsg) and their verdicts sent several per system call: one NFQNL_MSG_VERDICT_BATCH when the
/// whole batch shares a plain verdict — drops included — else one message per packet, all in one
/// sendto(). Not thread-safe: one per worker thread.
class NfQueue {
 public:
  struct Options {
    std::uint16_t queue = 0;
    std::uint32_t max_len = 32768;            ///< kernel-side queue length (absorbs bursts)
    std::size_t receive_buffer = 128u << 20;  ///< socket receive buffer (SO_RCVBUFFORCE)
    std::size_t batch = 128;                  ///< packets per receive
    /// NFQA_CFG_F_FAIL_OPEN: a full queue (or socket buffer) accepts the packet; off, the
    /// kernel drops it (queue_dropped / user_dropped). Independent of the rule's `bypass`,
    /// which decides for a queue nobody is bound to.
    bool fail_open = true;
  };

  static Result<std::unique_ptr<NfQueue>> open(const Options& opts);
  ~NfQueue();
  NfQueue(const NfQueue&) = delete;
  NfQueue& operator=(const NfQueue&) = delete;

  /// Waits up to `timeout_ms` for packets, then takes every message waiting (up to the batch
  /// size). Returns the packets; empty on timeout. ENOBUFS is counted, never fatal.
  std::span<QueuedPacket> receive(int timeout_ms) noexcept;

  enum class Decision : std::uint8_t { kAccept, kDrop };
  /// Records the verdict for packets[i] of the last receive(). `mark` != 0 sets the packet
  /// mark; `rewritten` sends the packet's (rewritten) bytes back with it.
  void verdict(std::size_t i, Decision d, std::uint32_t mark, bool rewritten) noexcept;
  /// Sends every verdict recorded since the last receive().
  void flushVerdicts() noexcept;

  /// Changes NFQA_CFG_F_FAIL_OPEN on the live queue. Sent without waiting for the kernel's
  /// answer (packet messages share the socket); an error comes back as a message that the next
  /// receive() counts in config_errors. The kernel applies it before any later packet.
  void setFailOpen(bool on) noexcept;
  bool failOpen() const noexcept { return opts_.fail_open; }
  /// The socket, for a poll() over several queues (receive(0) then takes what is waiting).
  int fd() const noexcept;

  const NfQueueStats& stats() const noexcept { return stats_; }
  std::uint16_t queue() const noexcept { return opts_.queue; }

 private:
  /// Sends the first `used` bytes of tx_ (the messages listed in sent_), then empties both.
  void sendVerdicts(std::size_t& used) noexcept;
  /// One NFQNL_MSG_VERDICT_BATCH message: every packet of the batch gets the same verdict.
  void flushUniform() noexcept;
  explicit NfQueue(const Options& opts);
  Result<void> configure();
  Result<void> sendConfig(std::span<std::byte> msg);

  struct Pending {
    Decision decision;
    std::uint32_t mark;
    bool rewritten;
  };

  Options opts_;
  mnl_socket* nl_ = nullptr;
  std::uint32_t portid_ = 0;
  std::vector<std::byte> rx_;  ///< batch * slot bytes
  std::vector<struct mmsghdr> msgs_;
  std::vector<struct iovec> iov_;
  std::size_t slot_ = 0;
  std::vector<QueuedPacket> packets_;
  std::vector<Pending> pending_;
  std::vector<std::byte> tx_;
  std::vector<std::pair<std::size_t, std::size_t>> sent_;
  NfQueueStats stats_;
  std::uint32_t last_id_ = 0;
  bool have_id_ = false;
  std::uint32_t config_seq_ = 0;  ///< sequence number of the last configuration request
};

}  // namespace synguard::daemon
