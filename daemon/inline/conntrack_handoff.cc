#include "daemon/inline/conntrack_handoff.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack_tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "daemon/inline/log.h"
#include "daemon/inline/nft_rules.h"

namespace synguard::daemon {

namespace {

/// How long the thread sleeps at most between looks at the workers' requests.
constexpr int kPollMs = 10;

/// Owns an nf_conntrack object.
struct CtPtr {
  nf_conntrack* ct = nfct_new();
  CtPtr() = default;
  CtPtr(const CtPtr&) = delete;
  CtPtr& operator=(const CtPtr&) = delete;
  ~CtPtr() {
    if (ct != nullptr) {
      nfct_destroy(ct);
    }
  }
};

std::uint32_t v4Net(const engine::IpAddress& a) { return htonl(a.v4HostOrder()); }

void setTuple(nf_conntrack* ct, const engine::FlowKey& k) {
  if (k.orig_addr.isV4()) {
    nfct_set_attr_u8(ct, ATTR_L3PROTO, AF_INET);
    nfct_set_attr_u32(ct, ATTR_IPV4_SRC, v4Net(k.orig_addr));
    nfct_set_attr_u32(ct, ATTR_IPV4_DST, v4Net(k.resp_addr));
    nfct_set_attr_u32(ct, ATTR_REPL_IPV4_SRC, v4Net(k.resp_addr));
    nfct_set_attr_u32(ct, ATTR_REPL_IPV4_DST, v4Net(k.orig_addr));
  } else {
    nfct_set_attr_u8(ct, ATTR_L3PROTO, AF_INET6);
    nfct_set_attr(ct, ATTR_IPV6_SRC, k.orig_addr.bytes().data());
    nfct_set_attr(ct, ATTR_IPV6_DST, k.resp_addr.bytes().data());
    nfct_set_attr(ct, ATTR_REPL_IPV6_SRC, k.resp_addr.bytes().data());
    nfct_set_attr(ct, ATTR_REPL_IPV6_DST, k.orig_addr.bytes().data());
  }
  // Both tuples in full: without the reply tuple's protocols the kernel answers EINVAL.
  nfct_set_attr_u8(ct, ATTR_REPL_L3PROTO, k.orig_addr.isV4() ? AF_INET : AF_INET6);
  nfct_set_attr_u8(ct, ATTR_L4PROTO, IPPROTO_TCP);
  nfct_set_attr_u8(ct, ATTR_REPL_L4PROTO, IPPROTO_TCP);
  nfct_set_attr_u16(ct, ATTR_PORT_SRC, htons(k.orig_port));
  nfct_set_attr_u16(ct, ATTR_PORT_DST, htons(k.resp_port));
  nfct_set_attr_u16(ct, ATTR_REPL_PORT_SRC, htons(k.resp_port));
  nfct_set_attr_u16(ct, ATTR_REPL_PORT_DST, htons(k.orig_port));
}

/// The entry the kernel translates the connection with: established, liberal windows (it never
/// saw the handshake's window scales), the reply direction's sequence numbers moved by
/// cookie ISN - server ISN (nf_ct_seq_adjust, SACK blocks included), and the synproxy
/// extension whose tsoff moves the server's timestamps (synproxy_tstamp_adjust).
void fillEntry(nf_conntrack* ct, const engine::ProxyHandoff& h, std::uint32_t timeout_s) {
  setTuple(ct, h.tuple);
  nfct_set_attr_u8(ct, ATTR_TCP_STATE, TCP_CONNTRACK_ESTABLISHED);
  const std::uint8_t liberal = IP_CT_TCP_FLAG_BE_LIBERAL | (h.sack ? IP_CT_TCP_FLAG_SACK_PERM : 0);
  nfct_set_attr_u8(ct, ATTR_TCP_FLAGS_ORIG, liberal);
  nfct_set_attr_u8(ct, ATTR_TCP_MASK_ORIG, liberal);
  nfct_set_attr_u8(ct, ATTR_TCP_FLAGS_REPL, liberal);
  nfct_set_attr_u8(ct, ATTR_TCP_MASK_REPL, liberal);
  nfct_set_attr_u32(ct, ATTR_STATUS, IPS_CONFIRMED | IPS_SEEN_REPLY | IPS_ASSURED | IPS_SEQ_ADJUST);
  nfct_set_attr_u32(ct, ATTR_TIMEOUT, timeout_s);
  nfct_set_attr_u32(ct, ATTR_MARK, kCtMarkHandoff);
  nfct_set_attr_u32(ct, ATTR_ORIG_NAT_SEQ_CORRECTION_POS, 0);
  nfct_set_attr_u32(ct, ATTR_ORIG_NAT_SEQ_OFFSET_BEFORE, 0);
  nfct_set_attr_u32(ct, ATTR_ORIG_NAT_SEQ_OFFSET_AFTER, 0);
  nfct_set_attr_u32(ct, ATTR_REPL_NAT_SEQ_CORRECTION_POS, 0);
  nfct_set_attr_u32(ct, ATTR_REPL_NAT_SEQ_OFFSET_BEFORE, h.seq_offset);
  nfct_set_attr_u32(ct, ATTR_REPL_NAT_SEQ_OFFSET_AFTER, h.seq_offset);
  nfct_set_attr_u32(ct, ATTR_SYNPROXY_ISN, h.cookie_isn);
  nfct_set_attr_u32(ct, ATTR_SYNPROXY_ITS, h.cookie_tsval);
  // The kernel's tsoff runs the other way (nf_synproxy: tsoff = server TSval - our TSval; the
  // reply direction's TSval has tsoff subtracted, the original's TSecr added): measured in
  // the lab, passing ts_off itself moved the server's TSval by 2 x ts_off.
  nfct_set_attr_u32(ct, ATTR_SYNPROXY_TSOFF, h.timestamps ? 0U - h.ts_off : 0U);
}

std::string addressOf(const nf_conntrack* ct, bool v4, bool src) {
  char buf[INET6_ADDRSTRLEN] = {};
  const void* a = v4 ? nfct_get_attr(ct, src ? ATTR_IPV4_SRC : ATTR_IPV4_DST)
                     : nfct_get_attr(ct, src ? ATTR_IPV6_SRC : ATTR_IPV6_DST);
  if (a == nullptr || ::inet_ntop(v4 ? AF_INET : AF_INET6, a, buf, sizeof buf) == nullptr) {
    return {};
  }
  return buf;
}

}  // namespace

std::string ConntrackHandoff::setElements(const nf_conntrack* ct) {
  const bool v4 = nfct_get_attr_u8(ct, ATTR_L3PROTO) == AF_INET;
  const std::string s = addressOf(ct, v4, true);
  const std::string d = addressOf(ct, v4, false);
  if (s.empty() || d.empty()) {
    return {};
  }
  const std::string sp = std::to_string(ntohs(nfct_get_attr_u16(ct, ATTR_PORT_SRC)));
  const std::string dp = std::to_string(ntohs(nfct_get_attr_u16(ct, ATTR_PORT_DST)));
  return s + " . " + sp + " . " + d + " . " + dp + ", " + d + " . " + dp + " . " + s + " . " + sp;
}

int ConntrackHandoff::onEvent(nf_conntrack_msg_type type, nf_conntrack* ct, void* self) {
  auto* me = static_cast<ConntrackHandoff*>(self);
  if (nfct_get_attr_u8(ct, ATTR_L4PROTO) != IPPROTO_TCP ||
      nfct_get_attr_u32(ct, ATTR_MARK) != kCtMarkHandoff) {
    return NFCT_CB_CONTINUE;
  }
  const std::string e = setElements(ct);
  if (e.empty()) {
    return NFCT_CB_CONTINUE;
  }
  const bool v4 = nfct_get_attr_u8(ct, ATTR_L3PROTO) == AF_INET;
  if (type == NFCT_T_DESTROY) {
    (v4 ? me->deletes_ : me->deletes6_).push_back(e);
    me->counters_.forgotten.fetch_add(1, std::memory_order_relaxed);
  } else {
    std::string& list = v4 ? me->adds_ : me->adds6_;
    list += (list.empty() ? "" : ", ") + e;
    me->counters_.learned.fetch_add(1, std::memory_order_relaxed);
  }
  return NFCT_CB_CONTINUE;
}

Result<std::unique_ptr<ConntrackHandoff>> ConntrackHandoff::start(const HandoffOptions& opts) {
  std::unique_ptr<ConntrackHandoff> h(new ConntrackHandoff(opts));
  h->query_ = nfct_open(CONNTRACK, 0);
  h->events_ = nfct_open(CONNTRACK, NF_NETLINK_CONNTRACK_NEW | NF_NETLINK_CONNTRACK_DESTROY);
  if (h->query_ == nullptr || h->events_ == nullptr) {
    return Unexpected{Error{std::string("proxy.handoff: cannot open ctnetlink (needs "
                                        "CAP_NET_ADMIN and nf_conntrack_netlink): ") +
                            std::strerror(errno)}};
  }
  const int fd = nfct_fd(h->events_);
  ::fcntl(fd, F_SETFL,
          ::fcntl(fd, F_GETFL) | O_NONBLOCK);  // NOLINT(cppcoreguidelines-pro-type-vararg)
  const int rcvbuf = 4 << 20;                  // a burst of events must not overflow the socket
  (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);  // best effort
  nfct_callback_register(h->events_,
                         static_cast<nf_conntrack_msg_type>(NFCT_T_NEW | NFCT_T_DESTROY),
                         &ConntrackHandoff::onEvent, h.get());
  // What conntrack already holds (entries a backup's conntrackd committed, or ours before a
  // restart): into the sets before the first packet.
  nfct_callback_register(h->query_, NFCT_T_ALL, &ConntrackHandoff::onEvent, h.get());
  for (std::uint32_t family : {std::uint32_t{AF_INET}, std::uint32_t{AF_INET6}}) {
    if (nfct_query(h->query_, NFCT_Q_DUMP, &family) != 0) {
      return Unexpected{
          Error{std::string("proxy.handoff: cannot dump conntrack: ") + std::strerror(errno)}};
    }
  }
  nfct_callback_unregister(h->query_);
  h->applySetChanges();
  h->thread_ = std::thread([p = h.get()] { p->run(); });
  return h;
}

ConntrackHandoff::~ConntrackHandoff() {
  stop_.store(true);
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
  if (query_ != nullptr) {
    nfct_close(query_);
  }
  if (events_ != nullptr) {
    nfct_close(events_);
  }
}

void ConntrackHandoff::request(const engine::ProxyHandoff& h) noexcept {
  const std::lock_guard lock(mutex_);
  if (pending_.size() >= opts_.max_pending) {
    counters_.dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  pending_.push_back(h);
}

bool ConntrackHandoff::create(const engine::ProxyHandoff& h) {
  CtPtr e;
  fillEntry(e.ct, h, opts_.timeout_s);
  if (nfct_query(query_, NFCT_Q_CREATE, e.ct) == 0) {
    return true;
  }
  if (errno != EEXIST) {
    return false;
  }
  // An entry of an earlier connection on the tuple (it closed; TIME-WAIT): replace it.
  CtPtr old;
  setTuple(old.ct, h.tuple);
  (void)nfct_query(query_, NFCT_Q_DESTROY, old.ct);
  if (nfct_query(query_, NFCT_Q_CREATE, e.ct) != 0) {
    return false;
  }
  counters_.replaced.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void ConntrackHandoff::createAll(std::vector<engine::ProxyHandoff>& batch) {
  for (const engine::ProxyHandoff& h : batch) {
    if (create(h)) {
      counters_.created.fetch_add(1, std::memory_order_relaxed);
    } else {
      counters_.errors.fetch_add(1, std::memory_order_relaxed);
      logLine(LogLevel::kWarning,
              std::string("proxy.handoff: conntrack entry not created (the connection stays "
                          "in user space): ") +
                  std::strerror(errno));
    }
  }
  batch.clear();
}

void ConntrackHandoff::applySetChanges() {
  const std::string table = "element inet " + opts_.nft_table + " ";
  for (auto [list, set] : {std::pair{&adds_, "handoff4"}, std::pair{&adds6_, "handoff6"}}) {
    if (!list->empty() && !runNft("add " + table + set + " { " + *list + " }\n")) {
      counters_.set_errors.fetch_add(1, std::memory_order_relaxed);
    }
    list->clear();
  }
  // One statement per connection: deleting an element already gone (its timeout ran out)
  // fails, and must not take the others with it; such a failure is no loss.
  for (auto [list, set] : {std::pair{&deletes_, "handoff4"}, std::pair{&deletes6_, "handoff6"}}) {
    for (const std::string& e : *list) {
      (void)runNft("delete " + table + set + " { " + e + " }\n");
    }
    list->clear();
  }
}

void ConntrackHandoff::run() {
  std::vector<engine::ProxyHandoff> batch;
  pollfd pfd{nfct_fd(events_), POLLIN, 0};
  while (!stop_.load(std::memory_order_relaxed)) {
    {
      const std::lock_guard lock(mutex_);
      batch.swap(pending_);
    }
    createAll(batch);
    if (::poll(&pfd, 1, kPollMs) > 0) {
      // Non-blocking: returns once the socket is drained (or it overflowed: ENOBUFS, counted
      // by the kernel; the entries' own timeouts and the sets' then part ways until traffic).
      (void)nfct_catch(events_);
    }
    applySetChanges();
  }
}

}  // namespace synguard::daemon
