#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "engine/protect/protection.h"
#include "engine/result.h"

namespace synguard::daemon {

/// Marks synguard puts on packets (the top byte 0x5e is ours; the rest of the mark is left
/// alone by nothing else we do).
constexpr std::uint32_t kMarkProxied = 0x5e000001;   ///< verdicts of proxied connections: notrack
constexpr std::uint32_t kMarkInjected = 0x5e000002;  ///< packets we send: never queued, notrack
/// Verdicts that let an established, untranslated connection bypass the queue: the chain after
/// the queue adds both directions of its tuple to the bypass set (and clears the mark).
constexpr std::uint32_t kMarkBypassLearn = 0x5e000003;
/// Put by the chain before the queue on plain segments of tuples in the bypass set: the queue
/// rules skip them (cleared again before conntrack).
constexpr std::uint32_t kMarkBypassed = 0x5e000004;
/// Put by the chain before the queue on segments of connections handed to conntrack
/// (proxy.handoff): the queue rules skip them and they are not notracked, so their conntrack
/// entry translates them (cleared again before conntrack). The entries' own conntrack mark is
/// kCtMarkHandoff (conntrack_handoff.h).
constexpr std::uint32_t kMarkHandedOff = 0x5e000006;

enum class RuleMode : std::uint8_t {
  kGateway,  ///< forwarded traffic to and from the services (prerouting)
  kLocal,    ///< a server protecting itself: also its own replies (output)
};

struct RuleOptions {
  std::string nft_table = "synguard";  ///< always family inet
  std::uint16_t first_queue = 0;
  std::uint16_t queues = 1;
  RuleMode mode = RuleMode::kGateway;
  /// Queue rules as nft `queue` statements; false: leave them out of the nft table (the
  /// kernel lacks nft_queue) and install them as xt NFQUEUE rules with iptables-nft instead.
  bool nft_queue = true;
  /// Established, untranslated connections bypass the queue (plain ACK/data segments; SYN,
  /// FIN and RST always come to us). See docs/DAEMON.md for the trade-off.
  bool bypass = true;
  std::uint32_t bypass_capacity = 1U << 21;  ///< set elements (two per connection)
  std::uint32_t bypass_timeout_s = 3600;     ///< an element lives this long after it is added
  /// proxy.handoff conntrack: the sets of handed-off tuples and the chains around them.
  bool handoff = false;
  std::uint32_t handoff_capacity = 1U << 21;  ///< set elements (two per connection)
  std::uint32_t handoff_timeout_s = 3600;     ///< an element lives this long after its last segment
  /// Anti-spoofing (rules.anti_spoofing): a service's own segments (source = its addresses
  /// and ports) arriving on an interface they cannot come from are dropped before the queue.
  bool anti_spoofing = true;
  /// Per service name (absent: check against the kernel's routes, `fib saddr . iif`).
  std::map<std::string, config::ServiceSide> sides{};
};

/// Whether SYNs (and fragments) to the service go to the SYN queues (first_queue + queues ..),
/// which the daemon keeps without fail-open while a service is in cookie mode: overload
/// drop_syn, a service that can be in cookie mode (mode not off), not in monitor mode.
bool dropsSynsOnOverload(const engine::ServiceConfig& s);
/// The side a service's own segments may come from, as the rules check it (ropts.sides, or the
/// default: by the routes). check false: not checked.
config::ServiceSide sideOf(const engine::ServiceConfig& s, const RuleOptions& opts);

/// The ruleset (nft syntax) that queues the services' TCP traffic to synguard, both
/// directions, before conntrack. See docs/DAEMON.md for the hook priorities and why.
std::string renderRules(const std::vector<engine::ServiceConfig>& services,
                        const RuleOptions& opts);

/// The same queue rules for iptables-nft-restore (-n), for kernels without the nft `queue`
/// expression: chain SYNGUARD in the raw table, jumped to from PREROUTING (and OUTPUT in local
/// mode). `v6` selects ip6tables syntax. The anti-spoofing drops are not here: they stay in
/// our nft table (chain antispoof, priority -320, ahead of the raw table's -300) in both cases.
std::string renderXtRules(const std::vector<engine::ServiceConfig>& services,
                          const RuleOptions& opts, bool v6);

/// Installs our table atomically (replacing a stale one left by a killed instance) through
/// libnftables; removes exactly that table. Never touches other tables — except, on kernels
/// without the nft `queue` expression, the SYNGUARD chains it adds to (and removes from) the
/// iptables raw tables.
class NftRules {
 public:
  static Result<NftRules> install(const std::vector<engine::ServiceConfig>& services,
                                  const RuleOptions& opts, std::string* note = nullptr);
  /// Removes the table (also on destruction, if not done yet).
  Result<void> remove();
  ~NftRules();
  NftRules(NftRules&& o) noexcept
      : opts_(std::move(o.opts_)),
        installed_(o.installed_),
        xt_(o.xt_),
        created_raw4_(o.created_raw4_),
        created_raw6_(o.created_raw6_) {
    o.installed_ = false;
    o.xt_ = false;
  }
  bool usesXt() const noexcept { return xt_; }
  /// Forgets the rules without removing them (a newer install replaced them in place).
  void disown() noexcept {
    installed_ = false;
    xt_ = false;
  }
  NftRules& operator=(NftRules&&) = delete;
  NftRules(const NftRules&) = delete;

 private:
  explicit NftRules(const RuleOptions& opts) : opts_(opts) {}
  RuleOptions opts_;
  bool installed_ = false;
  bool xt_ = false;            ///< queue rules live in iptables raw chains
  bool created_raw4_ = false;  ///< `ip raw` did not exist before us: delete it if left empty
  bool created_raw6_ = false;
};

/// The queue rules as the kernel has them now.
struct QueueRuleReading {
  std::uint64_t hits = 0;  ///< packets handed to the queues since the rules were installed
  std::size_t rules = 0;   ///< queue rules found (0: someone removed them)
  /// Per service name: segments with its source dropped by the anti-spoofing rules (since
  /// the rules were installed).
  std::map<std::string, std::uint64_t> spoofed{};
};
/// The comment that names a service's anti-spoofing rules (and lets readQueueRules find them).
std::string spoofRuleComment(const std::string& service);
/// Parses an nft listing: queue rule hits and the anti-spoofing drops, added to `into`.
void parseRuleCounters(const std::string& listing, QueueRuleReading& into);
/// Reads the queue rules' counters (`xt`: the iptables raw chains of the fallback). Whatever of
/// the hits got no verdict from the daemon passed without it (fail-open). An error when our
/// table or chains are gone. Reading needs CAP_NET_ADMIN.
Result<QueueRuleReading> readQueueRules(const RuleOptions& opts, bool xt);

/// Runs one nft command buffer through libnftables; the error text on failure.
/// `output`, if given, receives what the commands print (listings).
Result<void> runNft(const std::string& commands, std::string* output = nullptr);

}  // namespace synguard::daemon
