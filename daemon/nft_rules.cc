#include "daemon/nft_rules.h"

#include <nftables/libnftables.h>

#include <cstdio>
#include <sstream>

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

std::string hex(std::uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%08x", v);
  return b;
}

}  // namespace

std::string renderRules(const std::vector<engine::ServiceConfig>& services,
                        const RuleOptions& opts) {
  const std::string queue =
      opts.queues <= 1 ? "queue num " + std::to_string(opts.first_queue) + " bypass"
                       : "queue num " + std::to_string(opts.first_queue) + "-" +
                             std::to_string(opts.first_queue + opts.queues - 1) + " bypass";
  std::ostringstream in;
  std::ostringstream out;
  for (const auto& s : services) {
    const std::string p = ports(s);
    for (const bool v4 : {true, false}) {
      const auto c = s.addresses.cidrs(v4);
      if (c.empty()) {
        continue;
      }
      const char* fam = v4 ? "ip" : "ip6";
      in << "\t\t" << fam << " daddr { " << join(c) << " } tcp dport { " << p << " } " << queue
         << " comment \"" << s.name << "\"\n";
      in << "\t\t" << fam << " saddr { " << join(c) << " } tcp sport { " << p << " } " << queue
         << " comment \"" << s.name << " replies\"\n";
      if (opts.mode == RuleMode::kLocal) {
        out << "\t\t" << fam << " saddr { " << join(c) << " } tcp sport { " << p << " } " << queue
            << " comment \"" << s.name << " local replies\"\n";
      }
    }
  }
  std::ostringstream r;
  r << "table inet " << opts.table << " {\n"
    << "\t# Before conntrack (priority -200): SYNs answered with cookies and ACKs with bad\n"
    << "\t# cookies are dropped before conntrack allocates anything, and proxied connections\n"
    << "\t# are marked so the next chain exempts them (their sequence numbers are rewritten).\n"
    << "\tchain prerouting {\n"
    << "\t\ttype filter hook prerouting priority -300; policy accept;\n"
    << "\t\tmeta mark " << hex(kMarkInjected) << " return comment \"our own packets, looped\"\n"
    << in.str() << "\t}\n"
    << "\tchain proxied {\n"
    << "\t\ttype filter hook prerouting priority -290; policy accept;\n"
    << "\t\tmeta mark " << hex(kMarkProxied) << " notrack\n"
    << "\t}\n"
    << "\tchain output {\n"
    << "\t\ttype filter hook output priority -300; policy accept;\n"
    << "\t\tmeta mark " << hex(kMarkInjected) << " notrack\n"
    << "\t\tmeta mark " << hex(kMarkInjected) << " return\n"
    << out.str() << "\t}\n"
    << "\tchain output_proxied {\n"
    << "\t\ttype filter hook output priority -290; policy accept;\n"
    << "\t\tmeta mark " << hex(kMarkProxied) << " notrack\n"
    << "\t}\n"
    << "}\n";
  return r.str();
}

Result<void> runNft(const std::string& commands) {
  nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  if (ctx == nullptr) {
    return Unexpected{Error{"nftables: cannot create a context"}};
  }
  nft_ctx_buffer_output(ctx);
  nft_ctx_buffer_error(ctx);
  const int rc = nft_run_cmd_from_buffer(ctx, commands.c_str());
  std::string err = nft_ctx_get_error_buffer(ctx) != nullptr ? nft_ctx_get_error_buffer(ctx) : "";
  nft_ctx_free(ctx);
  if (rc != 0) {
    while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) {
      err.pop_back();
    }
    const auto nl = err.find('\n');
    return Unexpected{Error{"nftables: " + (nl == std::string::npos ? err : err.substr(0, nl))}};
  }
  return {};
}

Result<NftRules> NftRules::install(const std::string& ruleset, const RuleOptions& opts) {
  NftRules r(opts);
  // One transaction: declare (so delete cannot fail), delete a stale copy, create ours.
  const std::string cmd =
      "table inet " + opts.table + "\ndelete table inet " + opts.table + "\n" + ruleset;
  if (auto ok = runNft(cmd); !ok) {
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
  return runNft("delete table inet " + opts_.table + "\n");
}

NftRules::~NftRules() { (void)remove(); }

}  // namespace synguard::daemon
