#include "daemon/inline/nfqueue.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>

extern "C" {
#include <libnetfilter_queue/libnetfilter_queue.h>
}

namespace synguard::daemon {

namespace {

/// Room for one message: the netlink and nfqueue headers, the attributes we ask for, and a
/// 64 KiB GSO packet.
constexpr std::size_t kSlot = 0xffff + 4096;
/// Verdict datagrams are sent before they grow past this (the send buffer is raised to 4 MiB).
constexpr std::size_t kMaxDatagram = 1u << 20;
/// nla_len is 16 bits and counts its 4-byte header.
constexpr std::size_t kMaxPayloadAttr = 0xffff - 4;
/// How long a configuration request may wait for the kernel's answer before the start fails.
constexpr int kConfigAnswerTimeoutMs = 5000;

std::string errnoText(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

/// A packet message's attributes and header, or nullptr for any other message (counted in
/// `bad` when it is a packet message without a header).
const nfqnl_msg_packet_hdr* packetHeader(const nlmsghdr* nlh, nlattr** attr,
                                         std::uint64_t& bad) noexcept {
  if (nlh->nlmsg_type != ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET)) {
    return nullptr;
  }
  if (nfq_nlmsg_parse(nlh, attr) < 0 || attr[NFQA_PACKET_HDR] == nullptr) {
    ++bad;
    return nullptr;
  }
  return static_cast<const nfqnl_msg_packet_hdr*>(mnl_attr_get_payload(attr[NFQA_PACKET_HDR]));
}

}  // namespace

NfQueue::NfQueue(const Options& opts) : opts_(opts) {}

NfQueue::~NfQueue() {
  if (nl_ != nullptr) {
    // Unbind explicitly: a clean stop leaves no stale binding behind.
    std::vector<std::byte> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh =
        nfq_nlmsg_put(reinterpret_cast<char*>(buf.data()), NFQNL_MSG_CONFIG, opts_.queue);
    nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_UNBIND);
    (void)mnl_socket_sendto(nl_, nlh, nlh->nlmsg_len);
    mnl_socket_close(nl_);
  }
}

Result<std::unique_ptr<NfQueue>> NfQueue::open(const Options& opts) {
  std::unique_ptr<NfQueue> q(new NfQueue(opts));
  q->nl_ = mnl_socket_open(NETLINK_NETFILTER);
  if (q->nl_ == nullptr) {
    return Unexpected{Error{errnoText("netlink socket")}};
  }
  if (mnl_socket_bind(q->nl_, 0, MNL_SOCKET_AUTOPID) < 0) {
    return Unexpected{Error{errnoText("netlink bind")}};
  }
  q->portid_ = mnl_socket_get_portid(q->nl_);
  const int fd = mnl_socket_get_fd(q->nl_);
  int size = static_cast<int>(opts.receive_buffer);
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0) {
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  int snd = 4 << 20;  // several rewritten 64 KiB packets per verdict datagram
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof snd) != 0) {
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof snd);
  }
  if (auto r = q->configure(); !r) {
    return Unexpected{r.error()};
  }
  q->slot_ = kSlot;
  q->rx_.resize(opts.batch * kSlot);
  q->msgs_.resize(opts.batch);
  q->iov_.resize(opts.batch);
  q->packets_.reserve(opts.batch);
  q->pending_.reserve(opts.batch);
  q->tx_.resize(opts.batch * (kSlot + 256));
  return q;
}

Result<void> NfQueue::sendConfig(std::span<std::byte> msg) {
  // The rules may already send packets here (a restart under a flood: the rules stay while no
  // daemon runs), so the answer can arrive behind packet messages. Read until the answer to
  // this request (its sequence number); a packet met meanwhile was queued before we could take
  // it whole (the copy mode is set by this very exchange), so it is handed back with NF_REPEAT:
  // the kernel runs the hook again and queues it anew, and it is then seen by the engine. (A
  // packet swallowed here would get the verdict of the next uniform batch, never inspected.)
  auto* req = reinterpret_cast<nlmsghdr*>(msg.data());
  req->nlmsg_seq = ++config_seq_;
  if (mnl_socket_sendto(nl_, msg.data(), msg.size()) < 0) {
    return Unexpected{Error{errnoText("netlink send")}};
  }
  std::vector<std::byte> buf(MNL_SOCKET_BUFFER_SIZE + 0xffff);
  const int fd = mnl_socket_get_fd(nl_);
  for (int waited_ms = 0;;) {
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, 100);
    if (ready < 0 && errno != EINTR) {
      return Unexpected{Error{errnoText("netlink poll")}};
    }
    if (ready <= 0) {
      waited_ms += 100;
      if (waited_ms >= kConfigAnswerTimeoutMs) {
        return Unexpected{Error{"the kernel did not answer the queue configuration within " +
                                std::to_string(kConfigAnswerTimeoutMs / 1000) + " s"}};
      }
      continue;
    }
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        continue;
      }
      if (errno == ENOBUFS) {  // packet messages were lost; their ids fall to the next batch
        ++stats_.enobufs;
        continue;
      }
      return Unexpected{Error{errnoText("netlink receive")}};
    }
    int len = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<nlmsghdr*>(buf.data()); mnl_nlmsg_ok(nlh, len);
         nlh = mnl_nlmsg_next(nlh, &len)) {
      if (nlh->nlmsg_type == NLMSG_ERROR) {
        const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
        if (nlh->nlmsg_seq != req->nlmsg_seq) {
          stats_.config_errors += err->error != 0 ? 1 : 0;  // an earlier request's answer
          continue;
        }
        if (err->error != 0) {
          errno = -err->error;
          return Unexpected{Error{errnoText("nfqueue config")}};
        }
        return {};
      }
      nlattr* attr[NFQA_MAX + 1] = {};
      const nfqnl_msg_packet_hdr* ph = packetHeader(nlh, attr, stats_.bad_messages);
      if (ph == nullptr) {
        continue;
      }
      std::array<char, 256> small{};
      nlmsghdr* v = nfq_nlmsg_put(small.data(), NFQNL_MSG_VERDICT, opts_.queue);
      nfq_nlmsg_verdict_put(v, static_cast<int>(ntohl(ph->packet_id)), NF_REPEAT);
      if (mnl_socket_sendto(nl_, v, v->nlmsg_len) < 0) {
        ++stats_.verdict_errors;
      }
      ++stats_.requeued_at_setup;
    }
  }
}

Result<void> NfQueue::configure() {
  std::vector<std::byte> buf(MNL_SOCKET_BUFFER_SIZE);
  char* b = reinterpret_cast<char*>(buf.data());

  nlmsghdr* nlh = nfq_nlmsg_put(b, NFQNL_MSG_CONFIG, opts_.queue);
  nlh->nlmsg_flags |= NLM_F_ACK;
  nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_BIND);
  if (auto r = sendConfig(std::span<std::byte>(buf.data(), nlh->nlmsg_len)); !r) {
    if (r.error().message.find("Device or resource busy") != std::string::npos ||
        r.error().message.find("Operation not permitted") != std::string::npos) {
      return Unexpected{Error{"queue " + std::to_string(opts_.queue) +
                              " cannot be bound: " + r.error().message +
                              " (another process holds it, or CAP_NET_ADMIN is missing)"}};
    }
    return Unexpected{Error{"queue " + std::to_string(opts_.queue) + ": " + r.error().message}};
  }

  nlh = nfq_nlmsg_put(b, NFQNL_MSG_CONFIG, opts_.queue);
  nlh->nlmsg_flags |= NLM_F_ACK;
  nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, 0xffff);
  nfq_nlmsg_cfg_put_qmaxlen(nlh, opts_.max_len);
  // Fail open when the queue is full (the kernel accepts instead of dropping) unless told
  // otherwise; take GSO
  // packets whole instead of having the kernel segment them for us.
  const std::uint32_t mask = NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO;
  const std::uint32_t flags = (opts_.fail_open ? NFQA_CFG_F_FAIL_OPEN : 0U) | NFQA_CFG_F_GSO;
  mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
  mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(mask));
  if (auto r = sendConfig(std::span<std::byte>(buf.data(), nlh->nlmsg_len)); !r) {
    return Unexpected{Error{"queue " + std::to_string(opts_.queue) + ": " + r.error().message}};
  }
  return {};
}

int NfQueue::fd() const noexcept { return mnl_socket_get_fd(nl_); }

void NfQueue::setFailOpen(bool on) noexcept {
  if (on == opts_.fail_open) {
    return;
  }
  std::array<char, 256> buf{};
  nlmsghdr* nlh = nfq_nlmsg_put(buf.data(), NFQNL_MSG_CONFIG, opts_.queue);
  // Only the flag named in the mask changes (nfqnl_recv_config); no NLM_F_ACK: the answer
  // would queue up behind packet messages. An error is answered anyway (counted on receive).
  mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(on ? NFQA_CFG_F_FAIL_OPEN : 0U));
  mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_FAIL_OPEN));
  if (mnl_socket_sendto(nl_, nlh, nlh->nlmsg_len) < 0) {
    ++stats_.config_errors;
    return;
  }
  opts_.fail_open = on;
  ++stats_.fail_open_changes;
}

std::span<QueuedPacket> NfQueue::receive(int timeout_ms) noexcept {
  packets_.clear();
  pending_.clear();
  const int fd = mnl_socket_get_fd(nl_);
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) {
    return {};
  }
  const std::size_t n_slots = opts_.batch;
  for (std::size_t i = 0; i < n_slots; ++i) {
    iov_[i] = iovec{rx_.data() + i * slot_, slot_};
    msgs_[i] = mmsghdr{};
    msgs_[i].msg_hdr.msg_iov = &iov_[i];
    msgs_[i].msg_hdr.msg_iovlen = 1;
  }
  ++stats_.receive_calls;
  const int got =
      ::recvmmsg(fd, msgs_.data(), static_cast<unsigned>(n_slots), MSG_DONTWAIT, nullptr);
  if (got < 0) {
    if (errno == ENOBUFS) {
      ++stats_.enobufs;  // the kernel dropped messages; the queue goes on
    } else if (errno != EAGAIN && errno != EINTR) {
      ++stats_.receive_errors;
    }
    return {};
  }
  for (int m = 0; m < got; ++m) {
    auto* base = rx_.data() + static_cast<std::size_t>(m) * slot_;
    int len = static_cast<int>(msgs_[static_cast<std::size_t>(m)].msg_len);
    for (auto* nlh = reinterpret_cast<nlmsghdr*>(base); mnl_nlmsg_ok(nlh, len);
         nlh = mnl_nlmsg_next(nlh, &len)) {
      if (nlh->nlmsg_type == NLMSG_ERROR) {
        const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
        stats_.config_errors += err->error != 0 ? 1 : 0;  // a refused setFailOpen()
        continue;
      }
      nlattr* attr[NFQA_MAX + 1] = {};
      const nfqnl_msg_packet_hdr* ph = packetHeader(nlh, attr, stats_.bad_messages);
      if (ph == nullptr) {
        continue;
      }
      QueuedPacket qp;
      qp.id = ntohl(ph->packet_id);
      // A gap is a packet the socket had no room for: accepted with fail-open; without it
      // (a SYN queue in cookie mode) the kernel dropped it and counted it in user_dropped.
      if (have_id_ && qp.id - last_id_ > 1 && qp.id - last_id_ < 0x80000000U && opts_.fail_open) {
        stats_.failed_open += qp.id - last_id_ - 1;
      }
      have_id_ = true;
      last_id_ = qp.id;
      if (attr[NFQA_PAYLOAD] != nullptr) {
        qp.data =
            std::span<std::byte>(static_cast<std::byte*>(mnl_attr_get_payload(attr[NFQA_PAYLOAD])),
                                 mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]));
      }
      qp.wire_length = attr[NFQA_CAP_LEN] != nullptr ? ntohl(mnl_attr_get_u32(attr[NFQA_CAP_LEN]))
                                                     : static_cast<std::uint32_t>(qp.data.size());
      if (attr[NFQA_SKB_INFO] != nullptr) {
        const std::uint32_t info = ntohl(mnl_attr_get_u32(attr[NFQA_SKB_INFO]));
        qp.checksum_partial = (info & NFQA_SKB_CSUMNOTREADY) != 0;
        qp.checksum_unverified = (info & NFQA_SKB_CSUM_NOTVERIFIED) != 0;
        qp.gso = (info & NFQA_SKB_GSO) != 0;
      }
      packets_.push_back(qp);
      pending_.push_back(Pending{Decision::kAccept, 0, false});
      ++stats_.packets;
    }
  }
  return std::span<QueuedPacket>(packets_.data(), packets_.size());
}

void NfQueue::verdict(std::size_t i, Decision d, std::uint32_t mark, bool rewritten) noexcept {
  if (i < pending_.size()) {
    pending_[i] = Pending{d, mark, rewritten};
  }
}

void NfQueue::sendVerdicts(std::size_t& used) noexcept {
  if (used == 0) {
    return;
  }
  ++stats_.verdict_sends;
  if (mnl_socket_sendto(nl_, tx_.data(), used) < 0) {
    // Never leave a packet without a verdict (it would sit in the kernel queue): send the
    // messages one by one, and a packet whose rewritten copy is refused is dropped (its
    // sender retransmits) rather than passed untranslated.
    ++stats_.verdict_errors;
    for (const auto& [pkt, off] : sent_) {
      auto* nlh = reinterpret_cast<nlmsghdr*>(tx_.data() + off);
      if (mnl_socket_sendto(nl_, nlh, nlh->nlmsg_len) >= 0) {
        continue;
      }
      std::array<char, 256> small{};
      nlmsghdr* drop = nfq_nlmsg_put(small.data(), NFQNL_MSG_VERDICT, opts_.queue);
      nfq_nlmsg_verdict_put(drop, static_cast<int>(packets_[pkt].id), NF_DROP);
      (void)mnl_socket_sendto(nl_, drop, drop->nlmsg_len);
      ++stats_.verdict_fallback_drops;
    }
  }
  used = 0;
  sent_.clear();
}

void NfQueue::flushUniform() noexcept {
  // Every packet up to the highest id gets this verdict.
  std::uint32_t max_id = 0;
  for (const QueuedPacket& q : packets_) {
    max_id = std::max(max_id, q.id);
  }
  nlmsghdr* nlh =
      nfq_nlmsg_put(reinterpret_cast<char*>(tx_.data()), NFQNL_MSG_VERDICT_BATCH, opts_.queue);
  nfq_nlmsg_verdict_put(nlh, static_cast<int>(max_id),
                        pending_[0].decision == Decision::kAccept ? NF_ACCEPT : NF_DROP);
  std::size_t used = nlh->nlmsg_len;
  ++stats_.verdict_batches;
  stats_.verdicts += packets_.size();
  sendVerdicts(used);
}

void NfQueue::flushVerdicts() noexcept {
  if (packets_.empty()) {
    return;
  }
  bool uniform = true;
  for (const Pending& p : pending_) {
    uniform = uniform && p.decision == pending_[0].decision && p.mark == 0 && !p.rewritten;
  }
  sent_.clear();  // (packet, offset) per message
  if (uniform) {
    flushUniform();
    return;
  }
  char* b = reinterpret_cast<char*>(tx_.data());
  std::size_t used = 0;
  for (std::size_t i = 0; i < packets_.size(); ++i) {
    const Pending& p = pending_[i];
    const std::size_t need =
        MNL_ALIGN(sizeof(nlmsghdr)) + 256 + (p.rewritten ? packets_[i].data.size() : 0);
    if (used + need > kMaxDatagram) {
      sendVerdicts(used);  // stay well under the socket's send buffer
    }
    sent_.emplace_back(i, used);
    nlmsghdr* nlh = nfq_nlmsg_put(b + used, NFQNL_MSG_VERDICT, opts_.queue);
    nfq_nlmsg_verdict_put(nlh, static_cast<int>(packets_[i].id),
                          p.decision == Decision::kAccept ? NF_ACCEPT : NF_DROP);
    if (p.mark != 0) {
      nfq_nlmsg_verdict_put_mark(nlh, p.mark);
    }
    // A netlink attribute holds at most 65531 bytes: a bigger rewritten packet cannot be
    // handed back, and is dropped (counted) instead.
    if (p.rewritten && p.decision == Decision::kAccept &&
        packets_[i].data.size() > kMaxPayloadAttr) {
      nfq_nlmsg_verdict_put(nlh, static_cast<int>(packets_[i].id), NF_DROP);
      ++stats_.verdict_fallback_drops;
    } else if (p.rewritten && p.decision == Decision::kAccept) {
      nfq_nlmsg_verdict_put_pkt(nlh, packets_[i].data.data(),
                                static_cast<std::uint32_t>(packets_[i].data.size()));
      ++stats_.rewritten;
    }
    used += MNL_ALIGN(nlh->nlmsg_len);
    ++stats_.verdicts;
  }
  sendVerdicts(used);
}

}  // namespace synguard::daemon
