#include "daemon/inline/raw_sender.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace synguard::daemon {

namespace {

int openRaw(int family, std::uint32_t mark, std::string& err) {
  const int fd = ::socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
  if (fd < 0) {
    err = std::string(family == AF_INET ? "IPv4" : "IPv6") +
          " raw socket: " + std::strerror(errno) + " (needs CAP_NET_RAW)";
    return -1;
  }
  if (::setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) != 0) {
    err = std::string("SO_MARK: ") + std::strerror(errno) + " (needs CAP_NET_ADMIN)";
    ::close(fd);
    return -1;
  }
  int big = 4 << 20;
  (void)::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  if (family == AF_INET6) {
    // IPPROTO_RAW implies IPV6_HDRINCL on Linux (>= 4.5); ask anyway for clarity.
    int one = 1;
    (void)::setsockopt(fd, IPPROTO_IPV6, 36 /* IPV6_HDRINCL */, &one, sizeof one);
  }
  return fd;
}

}  // namespace

Result<std::unique_ptr<RawSender>> RawSender::open(std::uint32_t mark, std::size_t batch) {
  std::unique_ptr<RawSender> s(new RawSender());
  std::string err;
  s->fd4_ = openRaw(AF_INET, mark, err);
  if (s->fd4_ < 0) {
    return Unexpected{Error{err}};
  }
  s->fd6_ = openRaw(AF_INET6, mark, err);
  if (s->fd6_ < 0) {
    return Unexpected{Error{err}};
  }
  s->batch_ = batch;
  s->buf4_.resize(batch * kSlot);
  s->buf6_.resize(batch * kSlot);
  s->len4_.reserve(batch);
  s->len6_.reserve(batch);
  s->msgs_.resize(batch);
  s->iov_.resize(batch);
  s->dst4_.resize(batch);
  s->dst6_.resize(batch);
  return s;
}

RawSender::~RawSender() {
  if (fd4_ >= 0) {
    ::close(fd4_);
  }
  if (fd6_ >= 0) {
    ::close(fd6_);
  }
}

void RawSender::emit(engine::Direction dir, std::span<const std::byte> ip_packet) noexcept {
  if (ip_packet.empty() || ip_packet.size() > kSlot) {
    ++stats_.errors;
    return;
  }
  const bool v6 = (std::to_integer<std::uint8_t>(ip_packet[0]) >> 4) == 6;
  std::memcpy(reserve(v6, ip_packet.size()).data(), ip_packet.data(), ip_packet.size());
  commit(dir, ip_packet.size());
}

std::span<std::byte> RawSender::reserve(bool v6, std::size_t max) noexcept {
  if (max > kSlot) {
    return {};
  }
  auto& lens = v6 ? len6_ : len4_;
  if (lens.size() == batch_) {
    ++stats_.overflowed;
    flushFamily(v6 ? fd6_ : fd4_, v6);
  }
  reserved_v6_ = v6;
  auto& buf = v6 ? buf6_ : buf4_;
  return std::span<std::byte>(buf.data() + lens.size() * kSlot, kSlot);
}

void RawSender::commit(engine::Direction /*dir*/, std::size_t length) noexcept {
  if (length == 0 || length > kSlot) {
    ++stats_.errors;
    return;
  }
  (reserved_v6_ ? len6_ : len4_).push_back(length);
  ++stats_.queued;
}

void RawSender::flush() noexcept {
  if (!len4_.empty()) {
    flushFamily(fd4_, false);
  }
  if (!len6_.empty()) {
    flushFamily(fd6_, true);
  }
}

void RawSender::flushFamily(int fd, bool v6) noexcept {
  auto& lens = v6 ? len6_ : len4_;
  auto& buf = v6 ? buf6_ : buf4_;
  const std::size_t n = lens.size();
  auto& msgs = msgs_;
  auto& iov = iov_;
  auto& dst4 = dst4_;
  auto& dst6 = dst6_;
  for (std::size_t i = 0; i < n; ++i) {
    std::byte* p = buf.data() + i * kSlot;
    iov[i] = iovec{p, lens[i]};
    msgs[i] = mmsghdr{};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    if (v6) {
      dst6[i] = sockaddr_in6{};
      dst6[i].sin6_family = AF_INET6;
      std::memcpy(&dst6[i].sin6_addr, p + 24, 16);
      msgs[i].msg_hdr.msg_name = &dst6[i];
      msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_in6);
    } else {
      dst4[i] = sockaddr_in{};
      dst4[i].sin_family = AF_INET;
      std::memcpy(&dst4[i].sin_addr, p + 16, 4);
      msgs[i].msg_hdr.msg_name = &dst4[i];
      msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_in);
    }
  }
  std::size_t done = 0;
  while (done < n) {
    ++stats_.send_calls;
    const int r = ::sendmmsg(fd, msgs.data() + done, static_cast<unsigned>(n - done), 0);
    if (r < 0) {
      if (errno == EINTR) {
        continue;
      }
      ++stats_.errors;  // this packet failed: skip it, send the rest
      ++done;
      continue;
    }
    stats_.sent += static_cast<std::uint64_t>(r);
    done += static_cast<std::size_t>(r);
  }
  lens.clear();
}

}  // namespace synguard::daemon
