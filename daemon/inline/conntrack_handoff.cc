#include "daemon/inline/conntrack_handoff.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack_tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
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

/// The entry the kernel translates the connection with: established, with both sides' window
/// scales (conntrack never saw the handshake: it learns each side's window from its next
/// segment, as in a mid-stream pickup, and then checks windows, so a forged FIN or RST with a
/// random sequence number is invalid and moves nothing), the reply direction's sequence numbers
/// moved by
/// cookie ISN - server ISN (nf_ct_seq_adjust, SACK blocks included), and the synproxy
/// extension whose tsoff moves the server's timestamps (synproxy_tstamp_adjust).
void fillEntry(nf_conntrack* ct, const engine::ProxyHandoff& h, std::uint32_t timeout_s) {
  setTuple(ct, h.tuple);
  nfct_set_attr_u8(ct, ATTR_TCP_STATE, TCP_CONNTRACK_ESTABLISHED);
  // Not IP_CT_TCP_FLAG_BE_LIBERAL: a liberal entry takes any sequence number, and a blind
  // attacker's two forged FINs then walk it to TIME_WAIT (measured: the connection died).
  const auto flags = static_cast<std::uint8_t>(
      (h.sack ? IP_CT_TCP_FLAG_SACK_PERM : 0) |
      (h.window_shift_c != 0 || h.window_shift_s != 0 ? IP_CT_TCP_FLAG_WINDOW_SCALE : 0));
  nfct_set_attr_u8(ct, ATTR_TCP_FLAGS_ORIG, flags);
  nfct_set_attr_u8(ct, ATTR_TCP_MASK_ORIG, flags);
  nfct_set_attr_u8(ct, ATTR_TCP_FLAGS_REPL, flags);
  nfct_set_attr_u8(ct, ATTR_TCP_MASK_REPL, flags);
  nfct_set_attr_u8(ct, ATTR_TCP_WSCALE_ORIG, h.window_shift_c);
  nfct_set_attr_u8(ct, ATTR_TCP_WSCALE_REPL, h.window_shift_s);
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

/// A kernel-side filter on an event socket: TCP entries with our mark only (and, for the update
/// socket, in TIME_WAIT only); every other entry's events never leave the kernel, so a gateway
/// busy with other connections cannot overflow the socket with them. False: not attached (the
/// callbacks check both themselves).
bool filterOurs(nfct_handle* h, bool time_wait_only) {
  nfct_filter* f = nfct_filter_create();
  if (f == nullptr) {
    return false;
  }
  nfct_filter_add_attr_u32(f, NFCT_FILTER_L4PROTO, IPPROTO_TCP);
  if (time_wait_only) {
    nfct_filter_proto state{IPPROTO_TCP, TCP_CONNTRACK_TIME_WAIT};
    nfct_filter_add_attr(f, NFCT_FILTER_L4PROTO_STATE, &state);
  }
  nfct_filter_dump_mark mark{kCtMarkHandoff, 0xffffffffU};
  nfct_filter_add_attr(f, NFCT_FILTER_MARK, &mark);
  const bool ok = nfct_filter_attach(nfct_fd(h), f) == 0;
  nfct_filter_destroy(f);
  return ok;
}

bool ours(const nf_conntrack* ct) {
  return nfct_get_attr_u8(ct, ATTR_L4PROTO) == IPPROTO_TCP &&
         nfct_get_attr_u32(ct, ATTR_MARK) == kCtMarkHandoff;
}

std::string endpoint(const engine::IpAddress& a, std::uint16_t port) {
  return a.toString() + " . " + std::to_string(port);
}

}  // namespace

std::optional<engine::FlowKey> ConntrackHandoff::tupleOf(const nf_conntrack* ct) {
  if (nfct_get_attr_u8(ct, ATTR_L4PROTO) != IPPROTO_TCP) {
    return std::nullopt;
  }
  engine::FlowKey k;
  if (nfct_get_attr_u8(ct, ATTR_L3PROTO) == AF_INET) {
    if (!nfct_attr_is_set(ct, ATTR_IPV4_SRC) || !nfct_attr_is_set(ct, ATTR_IPV4_DST)) {
      return std::nullopt;
    }
    k.orig_addr = engine::IpAddress::v4(ntohl(nfct_get_attr_u32(ct, ATTR_IPV4_SRC)));
    k.resp_addr = engine::IpAddress::v4(ntohl(nfct_get_attr_u32(ct, ATTR_IPV4_DST)));
  } else {
    const void* s = nfct_get_attr(ct, ATTR_IPV6_SRC);
    const void* d = nfct_get_attr(ct, ATTR_IPV6_DST);
    if (s == nullptr || d == nullptr) {
      return std::nullopt;
    }
    k.orig_addr = engine::IpAddress::v6(static_cast<const std::uint8_t*>(s));
    k.resp_addr = engine::IpAddress::v6(static_cast<const std::uint8_t*>(d));
  }
  k.orig_port = ntohs(nfct_get_attr_u16(ct, ATTR_PORT_SRC));
  k.resp_port = ntohs(nfct_get_attr_u16(ct, ATTR_PORT_DST));
  return k;
}

std::string ConntrackHandoff::setElements(const engine::FlowKey& tuple) {
  const std::string o = endpoint(tuple.orig_addr, tuple.orig_port);
  const std::string r = endpoint(tuple.resp_addr, tuple.resp_port);
  return o + " . " + r + ", " + r + " . " + o;
}

int ConntrackHandoff::onEvent(nf_conntrack_msg_type type, nf_conntrack* ct, void* self) {
  auto* me = static_cast<ConntrackHandoff*>(self);
  if (!ours(ct)) {
    return NFCT_CB_CONTINUE;
  }
  const auto k = tupleOf(ct);
  if (!k) {
    return NFCT_CB_CONTINUE;
  }
  if (type == NFCT_T_DESTROY) {
    me->forget(*k, false);
    me->counters_.forgotten.fetch_add(1, std::memory_order_relaxed);
    // The engine that handed it off forgets it (a RST's CLOSE ran out, a timeout, a flush);
    // one that took it back, or closed it at TIME_WAIT, ignores this.
    me->notify(*k, engine::HandoffEnd::kGone);
  } else {
    me->addToSets(*k);
    me->counters_.learned.fetch_add(1, std::memory_order_relaxed);
  }
  return NFCT_CB_CONTINUE;
}

int ConntrackHandoff::onUpdate(nf_conntrack_msg_type /*type*/, nf_conntrack* ct, void* self) {
  auto* me = static_cast<ConntrackHandoff*>(self);
  if (!ours(ct) || nfct_get_attr_u8(ct, ATTR_TCP_STATE) != TCP_CONNTRACK_TIME_WAIT) {
    return NFCT_CB_CONTINUE;
  }
  const auto k = tupleOf(ct);
  if (!k) {
    return NFCT_CB_CONTINUE;
  }
  // Both FINs went through the kernel, the last ACK too. From here the engine's TIME-WAIT
  // holds the tuple: a client reusing the port gets a new handshake through the queue (a SYN
  // never takes the sets' way, and neither does the rest of that handshake once the
  // elements are gone), and the entry, whose sequence adjustment belongs to the old
  // connection, goes.
  me->forget(*k, true);
  me->counters_.closed.fetch_add(1, std::memory_order_relaxed);
  me->notify(*k, engine::HandoffEnd::kClosed);
  return NFCT_CB_CONTINUE;
}

ConntrackHandoff::ConntrackHandoff(HandoffOptions opts) : opts_(std::move(opts)) {}

namespace {

/// A non-blocking event socket with room for a burst.
void prepareEvents(nfct_handle* h) {
  const int fd = nfct_fd(h);
  ::fcntl(fd, F_SETFL,
          ::fcntl(fd, F_GETFL) | O_NONBLOCK);  // NOLINT(cppcoreguidelines-pro-type-vararg)
  const int rcvbuf = 4 << 20;                  // a burst of events must not overflow the socket
  (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);  // best effort
}

}  // namespace

Result<std::unique_ptr<ConntrackHandoff>> ConntrackHandoff::start(const HandoffOptions& opts) {
  std::unique_ptr<ConntrackHandoff> h(new ConntrackHandoff(opts));
  h->query_ = nfct_open(CONNTRACK, 0);
  h->events_ = nfct_open(CONNTRACK, NF_NETLINK_CONNTRACK_NEW | NF_NETLINK_CONNTRACK_DESTROY);
  h->updates_ = nfct_open(CONNTRACK, NF_NETLINK_CONNTRACK_UPDATE);
  if (h->query_ == nullptr || h->events_ == nullptr || h->updates_ == nullptr) {
    return Unexpected{Error{std::string("proxy.handoff: cannot open ctnetlink (needs "
                                        "CAP_NET_ADMIN and nf_conntrack_netlink): ") +
                            std::strerror(errno)}};
  }
  prepareEvents(h->events_);
  prepareEvents(h->updates_);
  if (!filterOurs(h->events_, false) || !filterOurs(h->updates_, true)) {
    logLine(LogLevel::kWarning,
            "proxy.handoff: conntrack's events cannot be filtered in the kernel; every event "
            "is read and checked here");
  }
  nfct_callback_register(h->events_,
                         static_cast<nf_conntrack_msg_type>(NFCT_T_NEW | NFCT_T_DESTROY),
                         &ConntrackHandoff::onEvent, h.get());
  nfct_callback_register(h->updates_, NFCT_T_UPDATE, &ConntrackHandoff::onUpdate, h.get());
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
  // Only now the outboxes: what the dump found is no engine's to be told about.
  for (std::size_t i = 0; i < std::max<std::size_t>(opts.workers, 1); ++i) {
    h->outboxes_.push_back(std::make_unique<Outbox>());
  }
  h->thread_ = std::thread([p = h.get()] { p->run(); });
  return h;
}

ConntrackHandoff::~ConntrackHandoff() {
  stop_.store(true);
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
  for (nfct_handle* h : {query_, events_, updates_}) {
    if (h != nullptr) {
      nfct_close(h);
    }
  }
}

void ConntrackHandoff::enqueue(Kind kind, const engine::ProxyHandoff& h) noexcept {
  {
    const std::lock_guard lock(mutex_);
    if (kind == Kind::kCheck) {
      if (pending_checks_ >= opts_.max_pending_checks || pending_.size() >= opts_.max_pending) {
        counters_.checks_skipped.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      ++pending_checks_;
      pending_.push_back(Request{kind, h});
      return;
    }
    if (pending_.size() < opts_.max_pending) {
      pending_.push_back(Request{kind, h});
      return;
    }
  }
  counters_.dropped.fetch_add(1, std::memory_order_relaxed);
  if (kind == Kind::kCreate) {
    notify(h.tuple, engine::HandoffEnd::kTakenBack);  // the engine keeps translating it
  }
}

void ConntrackHandoff::request(const engine::ProxyHandoff& h) noexcept {
  enqueue(Kind::kCreate, h);
}

void ConntrackHandoff::takeBack(const engine::FlowKey& tuple) noexcept {
  engine::ProxyHandoff h;
  h.tuple = tuple;
  enqueue(Kind::kTakeBack, h);
}

void ConntrackHandoff::checkEnded(const engine::FlowKey& tuple) noexcept {
  engine::ProxyHandoff h;
  h.tuple = tuple;
  enqueue(Kind::kCheck, h);
}

void ConntrackHandoff::notify(const engine::FlowKey& tuple, engine::HandoffEnd how) noexcept {
  // Every engine: the one that handed the tuple off acts, the others find nothing. (Which
  // worker owns a tuple is the kernel's queue hash; a handful of lookups is cheaper than
  // keeping that map.)
  for (const auto& box : outboxes_) {
    const std::lock_guard lock(box->mutex);
    box->notices.push_back(HandoffNotice{tuple, how});
    box->any.store(true, std::memory_order_release);
  }
}

void ConntrackHandoff::takeNotices(std::size_t worker, std::vector<HandoffNotice>& out) {
  if (worker >= outboxes_.size()) {
    return;
  }
  Outbox& box = *outboxes_[worker];
  if (!box.any.load(std::memory_order_acquire)) {
    return;
  }
  const std::lock_guard lock(box.mutex);
  out.insert(out.end(), box.notices.begin(), box.notices.end());
  box.notices.clear();
  box.any.store(false, std::memory_order_relaxed);
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
  // An entry of an earlier connection on the tuple (closed, not yet gone): replace it.
  CtPtr old;
  setTuple(old.ct, h.tuple);
  (void)nfct_query(query_, NFCT_Q_DESTROY, old.ct);
  if (nfct_query(query_, NFCT_Q_CREATE, e.ct) != 0) {
    return false;
  }
  counters_.replaced.fetch_add(1, std::memory_order_relaxed);
  return true;
}

namespace {

/// What a lookup of one tuple found.
struct Lookup {
  bool found = false;
  bool ours = false;
  std::uint8_t state = 0;
};

int onLookup(nf_conntrack_msg_type /*type*/, nf_conntrack* ct, void* data) {
  auto* l = static_cast<Lookup*>(data);
  l->found = true;
  l->ours = ours(ct);
  l->state = nfct_get_attr_u8(ct, ATTR_TCP_STATE);
  // Not NFCT_CB_STOP: that ends the read before the kernel's acknowledgment, which then sits
  // in the socket and answers the next query in its place (a lookup that found nothing).
  return NFCT_CB_CONTINUE;
}

}  // namespace

void ConntrackHandoff::check(const engine::FlowKey& tuple) {
  counters_.checked.fetch_add(1, std::memory_order_relaxed);
  CtPtr q;
  setTuple(q.ct, tuple);
  Lookup l;
  nfct_callback_register(query_, NFCT_T_ALL, &onLookup, &l);
  const int rc = nfct_query(query_, NFCT_Q_GET, q.ct);
  const int err = errno;
  nfct_callback_unregister(query_);
  // Over only on evidence: the kernel said there is no entry (ENOENT), or the entry is not
  // ours, closed or reset. Live (established, closing one way): the SYN was a guess or a
  // stray, and stays dropped. Anything else (an error, an answer without the entry) is no
  // evidence: the connection stays as it is, and the client's next SYN asks again.
  const bool none = rc != 0 && err == ENOENT;
  const bool found_over =
      rc == 0 && l.found &&
      (!l.ours || l.state == TCP_CONNTRACK_TIME_WAIT || l.state == TCP_CONNTRACK_CLOSE);
  const bool over = none || found_over;
  if (!over) {
    return;
  }
  counters_.check_ended.fetch_add(1, std::memory_order_relaxed);
  forget(tuple, l.found && l.ours);
  notify(tuple, engine::HandoffEnd::kGone);
}

std::string ConntrackHandoff::elementsIn(const engine::FlowKey& tuple) const {
  return "element inet " + opts_.nft_table + (tuple.orig_addr.isV4() ? " handoff4" : " handoff6") +
         " { " + setElements(tuple) + " }\n";
}

void ConntrackHandoff::addToSets(const engine::FlowKey& tuple) {
  set_ops_ += "add " + elementsIn(tuple);
}

void ConntrackHandoff::forget(const engine::FlowKey& tuple, bool delete_entry) {
  // Added first, then deleted: a delete of an element already gone (its timeout ran out, or
  // an earlier end took it) would fail the whole transaction; this pair never fails.
  const std::string elements = elementsIn(tuple);
  set_ops_ += "add " + elements + "delete " + elements;
  if (delete_entry) {
    ct_deletes_.push_back(tuple);
  }
}

void ConntrackHandoff::serve(std::vector<Request>& batch) {
  for (const Request& r : batch) {
    switch (r.kind) {
      case Kind::kCreate:
        if (create(r.h)) {
          counters_.created.fetch_add(1, std::memory_order_relaxed);
        } else {
          counters_.errors.fetch_add(1, std::memory_order_relaxed);
          logLine(LogLevel::kWarning,
                  std::string("proxy.handoff: conntrack entry not created (the connection "
                              "stays in user space): ") +
                      std::strerror(errno));
          notify(r.h.tuple, engine::HandoffEnd::kTakenBack);
        }
        break;
      case Kind::kTakeBack:
        counters_.taken_back.fetch_add(1, std::memory_order_relaxed);
        forget(r.h.tuple, true);
        break;
      case Kind::kCheck:
        check(r.h.tuple);
        break;
    }
  }
  batch.clear();
}

void ConntrackHandoff::applySetChanges() {
  if (!set_ops_.empty() && !runNft(set_ops_)) {
    counters_.set_errors.fetch_add(1, std::memory_order_relaxed);
  }
  set_ops_.clear();
  // Only now the entries: a segment that still found an element would otherwise skip the
  // queue and meet no entry (conntrack would pick it up untranslated). Deleting one already
  // gone is no loss either.
  for (const engine::FlowKey& k : ct_deletes_) {
    CtPtr e;
    setTuple(e.ct, k);
    (void)nfct_query(query_, NFCT_Q_DESTROY, e.ct);
  }
  ct_deletes_.clear();
}

void ConntrackHandoff::run() {
  std::vector<Request> batch;
  std::array<pollfd, 2> pfd{pollfd{nfct_fd(events_), POLLIN, 0},
                            pollfd{nfct_fd(updates_), POLLIN, 0}};
  while (!stop_.load(std::memory_order_relaxed)) {
    {
      const std::lock_guard lock(mutex_);
      batch.swap(pending_);
      pending_checks_ = 0;
    }
    serve(batch);
    applySetChanges();
    if (::poll(pfd.data(), pfd.size(), kPollMs) > 0) {
      // Non-blocking: each returns once its socket is drained (or it overflowed: ENOBUFS,
      // counted by the kernel; the entries' own timeouts and the sets' then part ways until
      // traffic). Updates first: a TIME_WAIT and then the DESTROY of our own deletion.
      if (pfd[1].revents != 0) {
        (void)nfct_catch(updates_);
      }
      if (pfd[0].revents != 0) {
        (void)nfct_catch(events_);
      }
    }
    applySetChanges();
  }
}

}  // namespace synguard::daemon
