#include "daemon/inline/nft_rules.h"

#include <nftables/libnftables.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string_view>

#include "daemon/inline/conntrack_handoff.h"

namespace synguard::daemon {

namespace {

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) {
    s += (s.empty() ? "" : ", ") + x;
  }
  return s;
}

std::string ports(const engine::ServiceConfig& s) {
  std::vector<std::string> p;
  for (const auto& r : s.ports) {
    p.push_back(r.first == r.last ? std::to_string(r.first)
                                  : std::to_string(r.first) + "-" + std::to_string(r.last));
  }
  return join(p);
}

/// RFC 792 and RFC 4443 §3 errors that quote the offending packet (source quench is obsolete,
/// RFC 6633; redirects quote too but change no TCP state).
constexpr const char* kIcmpErrors =
    "icmp type { destination-unreachable, time-exceeded, parameter-problem }";
constexpr const char* kIcmpv6Errors =
    "icmpv6 type { destination-unreachable, packet-too-big, time-exceeded, parameter-problem }";

std::string hex(std::uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%08x", v);
  return b;
}

}  // namespace

bool dropsSynsOnOverload(const engine::ServiceConfig& s) {
  return s.overload == engine::OverloadPolicy::kDropSyn && s.mode != engine::ProtectionMode::kOff &&
         !s.monitor;
}

config::ServiceSide sideOf(const engine::ServiceConfig& s, const RuleOptions& opts) {
  if (!opts.anti_spoofing) {
    return config::ServiceSide{false, {}};
  }
  const auto it = opts.sides.find(s.name);
  return it == opts.sides.end() ? config::ServiceSide{} : it->second;
}

std::string spoofRuleComment(const std::string& service) { return service + " spoofed source"; }

namespace {

/// The anti-spoofing chain (empty if no service is checked). Before everything else of ours
/// (the bypass marks at -310, the queue at -300, and the iptables raw table's queue rules at
/// -300 in the fallback), so a forged segment never reaches the engine nor a set.
std::string renderAntiSpoof(const std::vector<engine::ServiceConfig>& services,
                            const RuleOptions& opts) {
  std::ostringstream rules;
  for (const auto& s : services) {
    const config::ServiceSide side = sideOf(s, opts);
    if (!side.check) {
      continue;
    }
    std::string where;
    if (side.server_interfaces.empty()) {
      // Strict reverse path for these sources only: no route back to the source through the
      // interface it came in on (any nexthop of a multipath route counts; loopback passes).
      where = "fib saddr . iif oif missing";
    } else {
      std::vector<std::string> names{"\"lo\""};  // a service on this host talking to itself
      for (const auto& i : side.server_interfaces) {
        if (i != "lo") {
          names.push_back("\"" + i + "\"");
        }
      }
      where = "iifname != { " + join(names) + " }";
    }
    const std::string p = ports(s);
    for (const bool v4 : {true, false}) {
      const auto c = s.addresses.cidrs(v4);
      if (c.empty()) {
        continue;
      }
      rules << "\t\t" << (v4 ? "ip" : "ip6") << " saddr { " << join(c) << " } tcp sport { " << p
            << " } " << where << " counter drop comment \"" << spoofRuleComment(s.name) << "\"\n";
    }
  }
  if (rules.str().empty()) {
    return {};
  }
  return "\t# Anti-spoofing: a segment from a service's addresses and ports that arrives on an\n"
         "\t# interface it cannot come from (the kernel routes those addresses elsewhere, or\n"
         "\t# server_interfaces) is forged: dropped and counted before the queue.\n"
         "\tchain antispoof {\n"
         "\t\ttype filter hook prerouting priority -320; policy accept;\n"
         "\t\tmeta mark " +
         hex(kMarkInjected) + " return comment \"our own packets, looped\"\n" + rules.str() +
         "\t}\n";
}

/// The rules that hand the services' segments to the queues, by chain.
struct QueueRules {
  std::string in;        ///< prerouting: to and from the services
  std::string out;       ///< output, local mode: the services' own replies
  std::string out_icmp;  ///< output, gateway mode: the gateway's own ICMP errors to them
};

QueueRules renderQueueRules(const std::vector<engine::ServiceConfig>& services,
                            const RuleOptions& opts) {
  // Counted: the packets the rules hand to the queues, against the verdicts the daemon gives,
  // show what failed open (readQueueRules). `bypass` is the rule's flag: with no daemon bound
  // to the queue the packet passes; what a bound but full queue does is the queue's own flag
  // (NFQA_CFG_F_FAIL_OPEN, set by the daemon: always on the regular queues, off on the SYN
  // queues while a service is in cookie mode).
  const auto queueAt = [&](std::uint32_t first) {
    return opts.queues <= 1 ? "counter queue num " + std::to_string(first) + " bypass"
                            : "counter queue num " + std::to_string(first) + "-" +
                                  std::to_string(first + opts.queues - 1) + " bypass";
  };
  const std::string queue = queueAt(opts.first_queue);
  // The SYN queues: the same count, numbered after the regular ones. The kernel picks the
  // queue in a range by a hash of the addresses alone (nfqueue_hash: symmetric, one seed for
  // the module) plus the range's first number, so a connection's SYN lands on SYN queue
  // first+queues+i exactly when its other segments land on queue first+i: the same worker.
  const std::string syn_queue = queueAt(std::uint32_t{opts.first_queue} + opts.queues);
  std::ostringstream in;
  std::ostringstream out;
  std::ostringstream out_icmp;
  for (const auto& s : services) {
    const std::string p = ports(s);
    for (const bool v4 : {true, false}) {
      const auto c = s.addresses.cidrs(v4);
      if (c.empty()) {
        continue;
      }
      const char* fam = v4 ? "ip" : "ip6";
      if (!opts.nft_queue) {
        continue;
      }
      // Fragments are not reassembled before us (that needs conntrack's defrag): every TCP
      // fragment to the service's addresses comes to the engine, which drops them while the
      // service is in cookie mode (later fragments carry no port to match).
      // overload drop_syn: what can open a connection (SYNs, and fragments, which can carry
      // one) goes to the SYN queues, which drop instead of pass while the queue is full and
      // the service is in cookie mode.
      const bool drop_syn = dropsSynsOnOverload(s);
      in << "\t\t" << fam << " daddr { " << join(c) << " } "
         << (v4 ? "ip protocol tcp ip frag-off & 0x3fff != 0 " : "exthdr frag exists ")
         << (drop_syn ? syn_queue : queue) << " comment \"" << s.name << " fragments\"\n";
      if (drop_syn) {
        in << "\t\t" << fam << " daddr { " << join(c) << " } tcp dport { " << p
           << " } tcp flags & (syn | ack | fin | rst) == syn " << syn_queue << " comment \""
           << s.name << " SYNs\"\n";
      }
      in << "\t\t" << fam << " daddr { " << join(c) << " } tcp dport { " << p << " } " << queue
         << " comment \"" << s.name << "\"\n";
      // ICMP errors to the service's addresses may quote a proxied connection's segment as it
      // left us (translated): the engine moves it back so path-MTU discovery works. The
      // gateway's own errors (a smaller MTU toward the clients) leave through output.
      // Errors toward clients are not queued: they quote the client's own sequence numbers,
      // which we never shift, and the client's TCP checks nothing else (docs/DAEMON.md).
      const std::string icmp = std::string(fam) + " daddr { " + join(c) + " } " +
                               (v4 ? kIcmpErrors : kIcmpv6Errors) + " " + queue + " comment \"" +
                               s.name + " icmp errors\"\n";
      in << "\t\t" << icmp;
      if (opts.mode == RuleMode::kGateway) {
        out_icmp << "\t\t" << icmp;
      }
      in << "\t\t" << fam << " saddr { " << join(c) << " } tcp sport { " << p << " } " << queue
         << " comment \"" << s.name << " replies\"\n";
      if (opts.mode == RuleMode::kLocal) {
        out << "\t\t" << fam << " saddr { " << join(c) << " } tcp sport { " << p << " } " << queue
            << " comment \"" << s.name << " local replies\"\n";
      }
    }
  }
  return QueueRules{in.str(), out.str(), out_icmp.str()};
}

/// The bypass sets and the chains that use and fill them.
std::string renderBypass(const RuleOptions& opts) {
  std::ostringstream r;
  // Both directions of every bypassed connection, added from the packet path (dynset) when
  // a verdict carries kMarkBypassLearn; no update per packet (an element lives its timeout
  // from the add, then one segment comes back to us and renews it).
  for (const char* fam : {"4", "6"}) {
    const char* a = fam[0] == '4' ? "ipv4_addr" : "ipv6_addr";
    r << "\tset bypass" << fam << " {\n\t\ttype " << a << " . inet_service . " << a
      << " . inet_service\n\t\tsize " << opts.bypass_capacity << "\n\t\ttimeout "
      << opts.bypass_timeout_s << "s\n\t\tflags dynamic,timeout\n\t}\n";
  }
  const auto hooks = opts.mode == RuleMode::kLocal
                         ? std::vector<std::string>{"prerouting", "output"}
                         : std::vector<std::string>{"prerouting"};
  for (const std::string& hook : hooks) {
    const std::string pre = hook == "prerouting" ? "" : "output_";
    r << "\t# Before the queue: a FIN or RST ends a bypass (the close goes through us);\n"
      << "\t# plain segments of bypassed tuples get a mark the queue rules skip.\n"
      << "\tchain " << pre << "bypass {\n"
      << "\t\ttype filter hook " << hook << " priority -310; policy accept;\n";
    for (const char* fam : {"4", "6"}) {
      const std::string ip = fam[0] == '4' ? "ip" : "ip6";
      const std::string fwd = ip + " saddr . tcp sport . " + ip + " daddr . tcp dport";
      const std::string rev = ip + " daddr . tcp dport . " + ip + " saddr . tcp sport";
      r << "\t\ttcp flags & (fin | rst) != 0 " << fwd << " @bypass" << fam << " delete @bypass"
        << fam << " { " << fwd << " } delete @bypass" << fam << " { " << rev << " }\n";
      r << "\t\tmeta mark 0 tcp flags & (syn | fin | rst) == 0 " << fwd << " @bypass" << fam
        << " meta mark set " << hex(kMarkBypassed) << "\n";
    }
    r << "\t}\n"
      << "\t# After the queue, before conntrack: learn from verdicts, clear our marks.\n"
      << "\tchain " << pre << "bypass_learn {\n"
      << "\t\ttype filter hook " << hook << " priority -295; policy accept;\n";
    for (const char* fam : {"4", "6"}) {
      const std::string ip = fam[0] == '4' ? "ip" : "ip6";
      r << "\t\tmeta mark " << hex(kMarkBypassLearn) << " meta nfproto "
        << (fam[0] == '4' ? "ipv4" : "ipv6") << " add @bypass" << fam << " { " << ip
        << " saddr . tcp sport . " << ip << " daddr . tcp dport } add @bypass" << fam << " { " << ip
        << " daddr . tcp dport . " << ip << " saddr . tcp sport }\n";
    }
    r << "\t\tmeta mark { " << hex(kMarkBypassLearn) << ", " << hex(kMarkBypassed)
      << " } meta mark set 0\n"
      << "\t}\n";
  }
  return r.str();
}

/// proxy.handoff: the sets of connections handed to conntrack and the chains around them.
std::string renderHandoff(const RuleOptions& opts) {
  std::ostringstream r;
  for (const char* fam : {"4", "6"}) {
    const char* a = fam[0] == '4' ? "ipv4_addr" : "ipv6_addr";
    r << "\tset handoff" << fam << " {\n\t\ttype " << a << " . inet_service . " << a
      << " . inet_service\n\t\tsize " << opts.handoff_capacity << "\n\t\ttimeout "
      << opts.handoff_timeout_s << "s\n\t\tflags dynamic,timeout\n\t}\n";
  }
  r << "\t# Before the queue: segments of connections handed to conntrack (its entry, marked\n"
    << "\t# " << hex(kCtMarkHandoff) << ", translates them), FIN and RST included, skip the "
    << "queue and\n\t# are not notracked. Each one renews its element; the daemon fills the sets "
    << "from\n\t# conntrack's entries of that mark (its own, and those conntrackd committed). A "
    << "SYN never\n\t# goes this way: a new handshake on the tuple is the engine's to judge.\n"
    << "\tchain handoff {\n"
    << "\t\ttype filter hook prerouting priority -305; policy accept;\n";
  for (const char* fam : {"4", "6"}) {
    const std::string ip = fam[0] == '4' ? "ip" : "ip6";
    const std::string fwd = ip + " saddr . tcp sport . " + ip + " daddr . tcp dport";
    r << "\t\ttcp flags & syn == 0 " << fwd << " @handoff" << fam << " update @handoff" << fam
      << " { " << fwd << " } meta mark set " << hex(kMarkHandedOff) << "\n";
  }
  r << "\t}\n"
    << "\t# Counts what conntrack forwarded for us (its ct expression also keeps conntrack's\n"
    << "\t# hooks registered in this namespace).\n"
    << "\tchain handoff_forward {\n"
    << "\t\ttype filter hook forward priority 0; policy accept;\n"
    << "\t\tct mark " << hex(kCtMarkHandoff) << " counter comment \"handed off\"\n"
    << "\t}\n"
    << "\t# Never jumped to: a synproxy statement registers the kernel's synproxy hooks in this\n"
    << "\t# namespace, which move the timestamps of entries carrying the synproxy extension\n"
    << "\t# (its tsoff). Nothing reaches this rule.\n"
    << "\tchain handoff_synproxy {\n"
    << "\t\tsynproxy mss 1460 wscale 7 timestamp sack-perm\n"
    << "\t}\n";
  return r.str();
}

}  // namespace

std::string renderRules(const std::vector<engine::ServiceConfig>& services,
                        const RuleOptions& opts) {
  const QueueRules q = renderQueueRules(services, opts);
  std::ostringstream r;
  r << "table inet " << opts.nft_table << " {\n";
  r << renderAntiSpoof(services, opts);
  if (opts.bypass) {
    r << renderBypass(opts);
  }
  if (opts.handoff) {
    r << renderHandoff(opts);
  }
  r << "\t# Before conntrack (priority -200): SYNs answered with cookies and ACKs with bad\n"
    << "\t# cookies are dropped before conntrack allocates anything, and proxied connections\n"
    << "\t# are marked so the next chain exempts them (their sequence numbers are rewritten).\n"
    << "\tchain prerouting {\n"
    << "\t\ttype filter hook prerouting priority -300; policy accept;\n"
    << "\t\tmeta mark " << hex(kMarkInjected) << " return comment \"our own packets, looped\"\n"
    << (opts.bypass && opts.nft_queue
            ? "\t\tmeta mark " + hex(kMarkBypassed) + " return comment \"bypassed\"\n"
            : std::string())
    << (opts.handoff ? "\t\tmeta mark " + hex(kMarkHandedOff) + " return comment \"handed off\"\n"
                     : std::string())
    << q.in << "\t}\n"
    << "\tchain proxied {\n"
    << "\t\ttype filter hook prerouting priority -290; policy accept;\n"
    << "\t\tmeta mark " << hex(kMarkProxied) << " notrack\n"
    << (opts.handoff ? "\t\tmeta mark " + hex(kMarkHandedOff) + " meta mark set 0\n"
                     : std::string())
    << "\t}\n"
    << "\tchain output {\n"
    << "\t\ttype filter hook output priority -300; policy accept;\n"
    << "\t\tmeta mark " << hex(kMarkInjected) << " notrack\n"
    << "\t\tmeta mark " << hex(kMarkInjected) << " return\n"
    << (opts.bypass && opts.nft_queue
            ? "\t\tmeta mark " + hex(kMarkBypassed) + " return comment \"bypassed\"\n"
            : std::string())
    << q.out << q.out_icmp << "\t}\n"
    << "\tchain output_proxied {\n"
    << "\t\ttype filter hook output priority -290; policy accept;\n"
    << "\t\tmeta mark " << hex(kMarkProxied) << " notrack\n"
    << "\t}\n"
    << "}\n";
  return r.str();
}

Result<void> runNft(const std::string& commands, std::string* output) {
  nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  if (ctx == nullptr) {
    return Unexpected{Error{"nftables: cannot create a context"}};
  }
  nft_ctx_buffer_output(ctx);
  nft_ctx_buffer_error(ctx);
  const int rc = nft_run_cmd_from_buffer(ctx, commands.c_str());
  const char* ebuf = nft_ctx_get_error_buffer(ctx);  // read once: a second call comes back empty
  std::string err = ebuf != nullptr ? ebuf : "";
  if (output != nullptr) {
    const char* obuf = nft_ctx_get_output_buffer(ctx);
    *output = obuf != nullptr ? obuf : "";
  }
  nft_ctx_free(ctx);
  if (rc != 0) {
    // nft prints "file:line:col: Error: what", the offending line and a caret line: keep the
    // error line (the first line with "Error:"), else everything.
    std::string line;
    for (std::size_t at = 0; at < err.size();) {
      const auto nl = err.find('\n', at);
      const std::string l = err.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
      if (l.find("Error:") != std::string::npos) {
        line = l;
        break;
      }
      at = nl == std::string::npos ? err.size() : nl + 1;
    }
    if (line.empty()) {
      line = err;
      while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) {
        line.pop_back();
      }
    }
    return Unexpected{Error{"nftables: " + (line.empty() ? "failed (no message)" : line)}};
  }
  return {};
}

std::string renderXtRules(const std::vector<engine::ServiceConfig>& services,
                          const RuleOptions& opts, bool v6) {
  const auto queueAt = [&](std::uint32_t first) {
    return opts.queues <= 1 ? "-j NFQUEUE --queue-num " + std::to_string(first) + " --queue-bypass"
                            : "-j NFQUEUE --queue-balance " + std::to_string(first) + ":" +
                                  std::to_string(first + opts.queues - 1) + " --queue-bypass";
  };
  const std::string queue = queueAt(opts.first_queue);
  // xt_NFQUEUE balances with the same symmetric address hash as nft (its own module seed):
  // see renderRules.
  const std::string syn_queue = queueAt(std::uint32_t{opts.first_queue} + opts.queues);
  std::ostringstream r;
  // SYNGUARD_OUT: local replies (local mode) and the gateway's own ICMP errors (gateway mode).
  r << "*raw\n:SYNGUARD - [0:0]\n:SYNGUARD_OUT - [0:0]\n";
  r << "-A SYNGUARD_OUT -m mark --mark " << hex(kMarkInjected) << " -j RETURN\n";
  r << "-A SYNGUARD -m mark --mark " << hex(kMarkInjected) << " -j RETURN\n";
  if (opts.handoff) {
    r << "-A SYNGUARD -m mark --mark " << hex(kMarkHandedOff) << " -j RETURN\n";
  }
  if (opts.bypass) {
    r << "-A SYNGUARD -m mark --mark " << hex(kMarkBypassed) << " -j RETURN\n";
    if (opts.mode == RuleMode::kLocal) {
      r << "-A SYNGUARD_OUT -m mark --mark " << hex(kMarkBypassed) << " -j RETURN\n";
    }
  }
  for (const auto& s : services) {
    std::string p;
    for (const auto& pr : s.ports) {
      p += (p.empty() ? "" : ",") + std::to_string(pr.first) +
           (pr.first == pr.last ? "" : ":" + std::to_string(pr.last));
    }
    const bool drop_syn = dropsSynsOnOverload(s);
    for (const auto& c : s.addresses.cidrs(!v6)) {
      // Later fragments (no ports) to the service's addresses: the engine judges them.
      r << "-A SYNGUARD -d " << c << (v6 ? " -m frag --fragid 0:4294967295 " : " -p tcp -f ")
        << (drop_syn ? syn_queue : queue) << "\n";
      if (drop_syn) {
        r << "-A SYNGUARD -d " << c
          << " -p tcp --tcp-flags SYN,ACK,FIN,RST SYN -m multiport --dports " << p << " "
          << syn_queue << "\n";
      }
      r << "-A SYNGUARD -d " << c << " -p tcp -m multiport --dports " << p << " " << queue << "\n";
      r << "-A SYNGUARD -s " << c << " -p tcp -m multiport --sports " << p << " " << queue << "\n";
      if (opts.mode == RuleMode::kLocal) {
        r << "-A SYNGUARD_OUT -s " << c << " -p tcp -m multiport --sports " << p << " " << queue
          << "\n";
      }
      // ICMP errors to the service (see renderRules).
      const std::vector<std::string> types =
          v6 ? std::vector<std::string>{"destination-unreachable", "packet-too-big",
                                        "time-exceeded", "parameter-problem"}
             : std::vector<std::string>{"destination-unreachable", "time-exceeded",
                                        "parameter-problem"};
      for (const std::string& t : types) {
        const std::string rule = " -d " + c +
                                 (v6 ? " -p ipv6-icmp --icmpv6-type " : " -p icmp --icmp-type ") +
                                 t + " " + queue + "\n";
        r << "-A SYNGUARD" << rule;
        if (opts.mode == RuleMode::kGateway) {
          r << "-A SYNGUARD_OUT" << rule;
        }
      }
    }
  }
  r << "-I PREROUTING -j SYNGUARD\n";
  r << "-I OUTPUT -j SYNGUARD_OUT\n";
  r << "COMMIT\n";
  return r.str();
}

namespace {

Result<void> runRestore(bool v6, const std::string& input, bool quiet = false) {
  const char* cmd =
      v6 ? (quiet ? "ip6tables-nft-restore -n 2>/dev/null" : "ip6tables-nft-restore -n")
         : (quiet ? "iptables-nft-restore -n 2>/dev/null" : "iptables-nft-restore -n");
  FILE* f = ::popen(cmd, "w");
  if (f == nullptr) {
    return Unexpected{Error{std::string("cannot run ") + cmd}};
  }
  std::fwrite(input.data(), 1, input.size(), f);
  const int rc = ::pclose(f);
  if (rc != 0) {
    return Unexpected{Error{std::string(cmd) + " failed (status " + std::to_string(rc) + ")"}};
  }
  return {};
}

/// Whether the raw table is ours to delete once empty: it does not exist yet, or it only exists
/// for a stale SYNGUARD chain of a killed instance (an empty table of someone else's stays).
bool rawTableOurs(bool v6) {
  std::string listing;
  if (!runNft(std::string("list table ") + (v6 ? "ip6" : "ip") + " raw\n", &listing)) {
    return true;
  }
  return listing.find("SYNGUARD") != std::string::npos;
}

/// Deletes the iptables-nft raw table if it holds no rule (only its empty base chains): for
/// tables our install created, so a stop leaves the ruleset as it found it.
void deleteRawTableIfEmpty(bool v6) {
  const std::string fam = v6 ? "ip6" : "ip";
  std::string listing;
  if (!runNft("list table " + fam + " raw\n", &listing)) {
    return;
  }
  // A rule line is any line in a chain body that is not the chain's type/policy line.
  std::istringstream in(listing);
  for (std::string line; std::getline(in, line);) {
    const auto at = line.find_first_not_of(" \t");
    if (at == std::string::npos) {
      continue;
    }
    const std::string_view l = std::string_view(line).substr(at);
    if (!l.starts_with("table ") && !l.starts_with("chain ") && !l.starts_with("type ") &&
        l != "}") {
      return;  // someone's rule, set or comment: not ours to delete
    }
  }
  (void)runNft("delete table " + fam + " raw\n");
}

void removeXt(bool v6, RuleMode mode) {
  // One restore per statement: a missing piece must not stop the rest from going.
  const char* parts[] = {"-D PREROUTING -j SYNGUARD", "-F SYNGUARD", "-X SYNGUARD"};
  const char* local[] = {"-D OUTPUT -j SYNGUARD_OUT", "-F SYNGUARD_OUT", "-X SYNGUARD_OUT"};
  for (const char* p : parts) {
    (void)runRestore(v6, std::string("*raw\n") + p + "\nCOMMIT\n", true);
  }
  (void)mode;  // SYNGUARD_OUT exists in both modes
  for (const char* p : local) {
    (void)runRestore(v6, std::string("*raw\n") + p + "\nCOMMIT\n", true);
  }
}

}  // namespace

Result<NftRules> NftRules::install(const std::vector<engine::ServiceConfig>& services,
                                   const RuleOptions& opts, std::string* note) {
  NftRules r(opts);
  // One transaction: declare (so delete cannot fail), delete a stale copy, create ours.
  const auto attempt = [&](const RuleOptions& o) {
    return runNft("table inet " + o.nft_table + "\ndelete table inet " + o.nft_table + "\n" +
                  renderRules(services, o));
  };
  auto ok = attempt(opts);
  if (!ok && opts.nft_queue &&
      ok.error().message.find("No such file or directory") != std::string::npos) {
    // This kernel has no nft `queue` expression (nft_queue): keep our table for the rest and
    // put the queue rules in iptables' raw tables (xt NFQUEUE through nft_compat).
    r.opts_.nft_queue = false;
    ok = attempt(r.opts_);
    if (ok) {
      r.created_raw4_ = rawTableOurs(false);
      r.created_raw6_ = rawTableOurs(true);
      removeXt(false, opts.mode);  // a stale copy from a killed instance
      removeXt(true, opts.mode);
      if (auto x4 = runRestore(false, renderXtRules(services, r.opts_, false)); !x4) {
        (void)runNft("delete table inet " + opts.nft_table + "\n");
        return Unexpected{x4.error()};
      }
      if (auto x6 = runRestore(true, renderXtRules(services, r.opts_, true)); !x6) {
        removeXt(false, opts.mode);
        (void)runNft("delete table inet " + opts.nft_table + "\n");
        return Unexpected{x6.error()};
      }
      r.xt_ = true;
      if (note != nullptr) {
        *note =
            "this kernel has no nft queue expression: the queue rules are iptables NFQUEUE "
            "rules in chain SYNGUARD of the raw tables";
      }
    }
  }
  if (!ok) {
    return Unexpected{ok.error()};
  }
  r.installed_ = true;
  return r;
}

Result<void> NftRules::remove() {
  if (!installed_) {
    return {};
  }
  installed_ = false;
  if (xt_) {
    removeXt(false, opts_.mode);
    removeXt(true, opts_.mode);
    if (created_raw4_) {
      deleteRawTableIfEmpty(false);
    }
    if (created_raw6_) {
      deleteRawTableIfEmpty(true);
    }
    xt_ = false;
  }
  return runNft("delete table inet " + opts_.nft_table + "\n");
}

NftRules::~NftRules() { (void)remove(); }

void parseRuleCounters(const std::string& listing, QueueRuleReading& into) {
  std::istringstream in(listing);
  constexpr std::string_view kSpoof = " spoofed source\"";
  for (std::string line; std::getline(in, line);) {
    const auto c = line.find("counter packets ");
    if (c == std::string::npos) {
      continue;
    }
    const std::uint64_t n = std::strtoull(line.c_str() + c + 16, nullptr, 10);
    const auto q = line.find(" queue ");
    if (q != std::string::npos && c < q) {
      into.hits += n;
      ++into.rules;
      continue;
    }
    // `... counter packets N bytes M drop comment "NAME spoofed source"`
    const auto d = line.find(" drop comment \"", c);
    const auto e = line.rfind(kSpoof);
    if (d == std::string::npos || e == std::string::npos || e + kSpoof.size() != line.size()) {
      continue;
    }
    const auto name_at = d + 15;
    if (e > name_at) {
      into.spoofed[line.substr(name_at, e - name_at)] += n;
    }
  }
}

Result<QueueRuleReading> readQueueRules(const RuleOptions& opts, bool xt) {
  // Our table first: in the fallback it holds no queue rule but the marks and notrack rules
  // the proxy needs, and listing it fails once it is gone.
  std::vector<std::string> lists{"list table inet " + opts.nft_table + "\n"};
  if (xt) {
    for (const char* fam : {"ip", "ip6"}) {
      lists.push_back(std::string("list chain ") + fam + " raw SYNGUARD\n");
      lists.push_back(std::string("list chain ") + fam + " raw SYNGUARD_OUT\n");
    }
  }
  QueueRuleReading reading;
  for (const std::string& cmd : lists) {
    std::string out;
    if (auto r = runNft(cmd, &out); !r) {
      return Unexpected{r.error()};
    }
    parseRuleCounters(out, reading);
  }
  return reading;
}

}  // namespace synguard::daemon
