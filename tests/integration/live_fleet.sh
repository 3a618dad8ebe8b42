#!/usr/bin/env bash
# A gateway fleet on a network (scripts/lab/fleet.sh): a router R in front of gateways A and B that
# share one cookie key file, a server behind them.
#   live_fleet.sh SYNGUARD PART   PART: spread | cross | failover | synproxy
# spread    active-active (ECMP by L4 hash), every connection proxied (mode always) on both
#           gateways: 40 downloads, 20 uploads and 20 IPv6 downloads intact (sha256); both
#           gateways validated cookies, and together exactly one per connection
# cross     a handshake whose SYN R sends to A (A's cookie SYN-ACK) and whose ACK and the rest R
#           steers to B (nft mark + ip rule) completes through B: the ACKs are held on R (an
#           unresolved neighbour) until B's clock has passed its next cookie key rotation, so
#           A's cookie is from the key period before B's; B's wall clock runs 3 s ahead of A's
#           (libfaketime), then 3 s behind. Transfers intact; B counts the validations, A none.
#           Then the limit: B 5 s behind, cookies from the first second of A's window fail on B
# failover  active-backup: 8 downloads of 1.5 MB at 100 kB/s (15 s) proxied by A, conntrackd (FTFW) on A
#           and B; A dies (kill -9 of synguard and conntrackd, links down), the VIPs move to B and
#           B commits conntrackd's external cache, as a keepalived notify script does. Counts the
#           transfers that complete intact. With proxy.handoff: conntrack all 8 must; a build
#           without it cannot keep them (the translation lived in A's process): 0 must, and the
#           part says so. New connections through B succeed either way
# synproxy  the same failover with the kernel's SYNPROXY (nft) and conntrackd instead of
#           synguard: the side-by-side figure
set -euo pipefail
synguard="${1:?usage: live_fleet.sh SYNGUARD_BINARY PART}"
part="${2:?part: spread|cross|failover|synproxy}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
LAB_ID="sgl$$"
# shellcheck source=../../scripts/lab/fleet.sh
source "$root/scripts/lab/fleet.sh"
# shellcheck source=lib.sh
source "$here/lib.sh"
PORT=8080
FT=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1

fail() {
  echo "FAIL $*"
  local g
  for g in A B; do
    [ -f "$LAB_DIR/sg.$g.log" ] && { echo "--- synguard $g"; tail -8 "$LAB_DIR/sg.$g.log"; }
  done
  exit 1
}

# service_config FILE [extra YAML]: the web service in cookie mode on every gateway (checked).
service_config() {
  write_config "$@"
  "$synguard" check-config "$1" >/dev/null || fail "the test's configuration does not validate: $("$synguard" check-config "$1" 2>&1)"
}
write_config() {
  printf 'services:\n  - name: web\n    addresses: [%s/32, %s/128]\n    ports: [%s]\n    mode: always\nqueues:\n  count: 1\nstats_interval: 1s\n%s' \
    "$SERVER4" "$SERVER6" "$PORT" "${2:-}" >"$1"
}

# share_key: one key, copied to each gateway as an operator does (scp; mode 0600 kept).
share_key() {
  "$synguard" cookie-key "$LAB_DIR/cookie.key" >/dev/null
  cp -p "$LAB_DIR/cookie.key" "$LAB_DIR/cookie.A.key"
  cp -p "$LAB_DIR/cookie.key" "$LAB_DIR/cookie.B.key"
}

sg_on() {  # sg_on A|B CONFIG: synguard on a gateway with its copy of the shared key
  fleet_sg_start "$1" "$LAB_DIR/sg.$1.log" --config "$2" --key-file "$LAB_DIR/cookie.$1.key"
}

validated() { fleet_metric "$1" 'synguard_cookies_validated_total{service="web"}'; }
cookies_sent() { fleet_metric "$1" 'synguard_cookies_sent_total{service="web"}'; }
rotations() { fleet_metric "$1" synguard_cookie_key_rotations_total; }

# established SPORT_LO SPORT_HI: the client's established connections from those source ports.
established() {
  lab_ns "$NS_C" ss -Htn state established "( sport >= :$1 and sport <= :$2 )" | wc -l
}

case "$part" in
  spread)
    fleet_up
    fleet_ecmp
    lab_server "$PORT" --backlog 128 --ipv6
    share_key
    service_config "$LAB_DIR/sg.yaml"
    sg_on A "$LAB_DIR/sg.yaml"
    sg_on B "$LAB_DIR/sg.yaml"
    lab_client --host "$SERVER4" --port "$PORT" --mode download --count 40 --bytes 200000 \
      --timeout 20 || fail "downloads through the fleet"
    lab_client --host "$SERVER4" --port "$PORT" --mode upload --count 20 --bytes 200000 \
      --timeout 20 || fail "uploads through the fleet"
    lab_client --host "$SERVER6" --port "$PORT" --mode download --count 20 --bytes 200000 \
      --timeout 20 || fail "IPv6 downloads through the fleet"
    # Each connection's cookie is validated once, by the gateway its flow hashed to (the
    # workers publish their counters a few times a second: waited for, then exact).
    wait_until 15 '[ $(( $(validated A) + $(validated B) )) -ge 80 ]' || true
    a=$(validated A)
    b=$(validated B)
    pa=$(fleet_metric A synguard_proxied_connections_total)
    pb=$(fleet_metric B synguard_proxied_connections_total)
    echo "spread: 80/80 transfers intact (sha256), 20 of them IPv6; cookies validated: gateway A $a, gateway B $b; proxied connections: A $pa, B $pb"
    [ $((a + b)) -eq 80 ] || fail "validated $a + $b cookies for 80 connections"
    [ "$a" -gt 0 ] && [ "$b" -gt 0 ] || fail "the flows did not spread over both gateways ($a / $b)"
    echo PASS live_fleet spread
    ;;
  cross)
    [ -f "$FT" ] || fail "libfaketime is missing (scripts/install-deps.sh installs faketime)"
    fleet_up
    fleet_ecmp
    lab_server "$PORT" --backlog 128
    share_key
    # Cookie windows of 10 s (the accepted age: this window and the previous one) and key
    # periods of 20 s, the shortest the validation allows (window x (max_age_windows + 1)).
    service_config "$LAB_DIR/sg.yaml" "cookies:
  window: 10s
  max_age_windows: 1
  rotation: 20s
"
    sg_on A "$LAB_DIR/sg.yaml"
    echo "+3" >"$LAB_DIR/faketime.B"
    FLEET_WRAP=(env "LD_PRELOAD=$FT" "FAKETIME_TIMESTAMP_FILE=$LAB_DIR/faketime.B"
      FAKETIME_NO_CACHE=1 DONT_FAKE_MONOTONIC=1)
    sg_on B "$LAB_DIR/sg.yaml"
    FLEET_WRAP=()
    # R: from source ports 41000-41099 the SYN goes to A (mark 1) and everything after it to B
    # (mark 2) through a next hop that does not answer ARP yet (198.18.0.99): R keeps those
    # packets in the neighbour's queue until the test resolves it to B's MAC. Ports
    # 42000-42099 go to B directly (mark 3): connections that make B read its clock.
    lab_ns "$NS_R" nft -f - <<NFT
table ip steer {
  chain pre {
    type filter hook prerouting priority mangle; policy accept;
    ip saddr $CLIENT4 tcp dport $PORT tcp sport 41000-41099 tcp flags & (syn | ack) == syn meta mark set 1
    ip saddr $CLIENT4 tcp dport $PORT tcp sport 41000-41099 tcp flags & syn == 0 meta mark set 2
    ip saddr $CLIENT4 tcp dport $PORT tcp sport 42000-42099 meta mark set 3
  }
}
NFT
    lab_ns "$NS_R" sysctl -qw net.ipv4.neigh.rf.mcast_solicit=60 net.ipv4.neigh.rf.retrans_time_ms=1000 \
      net.ipv4.neigh.rf.unres_qlen_bytes=4194304
    lab_ns "$NS_R" ip route add 198.51.100.0/24 via 198.18.0.2 dev rf table 201
    lab_ns "$NS_R" ip route add 198.51.100.0/24 via 198.18.0.99 dev rf onlink table 202
    lab_ns "$NS_R" ip route add 198.51.100.0/24 via 198.18.0.3 dev rf table 203
    for m in 1 2 3; do lab_ns "$NS_R" ip rule add fwmark "$m" table "20$m"; done
    mac_b=$(fleet_mac B front)
    N=4
    total_b0=$(validated B)
    total_a0=$(validated A)
    sent_a0=$(cookies_sent A)
    # B reads its clock on its first packet (that sets its key period; only later changes count
    # as rotations): one connection through B first.
    lab_client --host "$SERVER4" --port "$PORT" --mode normal --count 1 --bytes 100 \
      --sport 42000 >/dev/null || fail "a connection through B"
    probe=42001
    round=0
    for skew in +3 -3; do
      echo "$skew" >"$LAB_DIR/faketime.B"
      off=${skew#+}
      base=$((41000 + round * 10))
      # The clients connect when A's clock is 9 s before a key rotation (B's clock, 3 s ahead,
      # is then 6 s before its own; 3 s behind: 12 s before), so A's cookies come from key
      # period p and cookie window b/10 - 1; the ACKs are released once B's clock is in period
      # p + 1, where p is B's previous key, and in window b/10: one window old, the age the
      # configuration accepts. (Started 6 s ahead: starting python took up to 6 s here.)
      lead=9
      b=$(python3 -c "
import time
t = time.time(); r = 20
b = (int(t // r) + 1) * r
while b - $lead - t < 6: b += r
print(b)")
      pids=()
      for k in $(seq 0 $((N - 1))); do
        lab_client --host "$SERVER4" --port "$PORT" --mode download --bytes 1000000 \
          --timeout 40 --sport $((base + k)) --start-at $((b - lead)) \
          >"$LAB_DIR/cross.$round.$k.log" 2>&1 &
        pids+=("$!")
      done
      wait_until 40 "[ \$(established $base $((base + N - 1))) -eq $N ]" ||
        fail "the clients did not get A's SYN-ACKs"
      t_synack=$(date +%s.%N)
      rot_b0=$(rotations B)
      # Before A's rotation at b: every cookie came from key period b/20 - 1.
      python3 -c "import sys; sys.exit(0 if $t_synack < $b else 1)" ||
        fail "A answered the SYNs only after its key rotation (the machine stalled $lead s)"
      # Wait for B's clock to pass its rotation (real time b - skew), then connections through B
      # until B has counted it (it reads its clock per packet).
      python3 -c "import time; time.sleep(max(0, $b - ($off) + 0.3 - time.time()))"
      for _ in $(seq 1 20); do
        lab_client --host "$SERVER4" --port "$PORT" --mode normal --count 1 --bytes 100 \
          --sport "$probe" >/dev/null || fail "a connection through B"
        probe=$((probe + 1))
        wait_until 2 "[ \$(rotations B) -gt $rot_b0 ]" && break
      done
      [ "$(rotations B)" -gt "$rot_b0" ] || fail "B's clock did not reach its key rotation"
      t_release=$(date +%s.%N)
      lab_ns "$NS_R" ip neigh replace 198.18.0.99 lladdr "$mac_b" dev rf nud reachable
      ok=0
      for p in "${pids[@]}"; do wait "$p" && ok=$((ok + 1)); done
      lab_ns "$NS_R" ip neigh del 198.18.0.99 dev rf
      echo "cross, B's clock $skew s: SYN-ACKs from A $(python3 -c "print(round($b - $t_synack, 1))") s before A's key rotation; ACKs held on R for $(python3 -c "print(round($t_release - $t_synack, 1))") s, released after B's; $ok/$N downloads through B intact (sha256)"
      [ "$ok" -eq "$N" ] || fail "$ok/$N cross-gateway downloads (B's clock $skew s): $(cat "$LAB_DIR"/cross."$round".*.log)"
      round=$((round + 1))
    done
    # The limit (docs/OPERATIONS.md, "Clocks"): B's clock 5 s behind, the SYNs reach A 0.5 s
    # into a cookie window and the ACKs go to B at once, where that window has not begun yet:
    # a counter from the future, rejected as stale, and the downloads fail.
    echo "-5" >"$LAB_DIR/faketime.B"
    base=41020
    b=$(python3 -c "
import time
t = time.time(); w = 10
b = (int(t // w) + 1) * w
while b - t < 6: b += w
print(b)")
    stale0=$(fleet_metric B 'synguard_cookies_rejected_total{reason="stale"}')
    vb0=$(validated B)
    pids=()
    for k in $(seq 0 $((N - 1))); do
      lab_client --host "$SERVER4" --port "$PORT" --mode download --bytes 1000 --timeout 4 \
        --sport $((base + k)) --start-at "$b.5" >"$LAB_DIR/lag.$k.log" 2>&1 &
      pids+=("$!")
    done
    wait_until 40 "[ \$(established $base $((base + N - 1))) -eq $N ]" ||
      fail "the clients did not get A's SYN-ACKs"
    lab_ns "$NS_R" ip neigh replace 198.18.0.99 lladdr "$mac_b" dev rf nud reachable
    t_release=$(date +%s.%N)
    python3 -c "import sys; sys.exit(0 if $t_release < $b + 4 else 1)" ||
      fail "the ACKs were released only $(python3 -c "print(round($t_release - $b, 1))") s into A's window (the machine stalled)"
    ok=0
    for p in "${pids[@]}"; do wait "$p" && ok=$((ok + 1)); done
    lab_ns "$NS_R" ip neigh del 198.18.0.99 dev rf
    wait_until 10 "[ \$(fleet_metric B 'synguard_cookies_rejected_total{reason=\"stale\"}') -ge $((stale0 + N)) ]" || true
    stale=$(($(fleet_metric B 'synguard_cookies_rejected_total{reason="stale"}') - stale0))
    echo "cross, B's clock -5 s, SYN-ACKs from A $(python3 -c "print(round($t_release - $b, 1))") s into its cookie window, ACKs to B at once: $ok/$N downloads, B rejected $stale segments as stale, validated $(($(validated B) - vb0))"
    [ "$ok" -eq 0 ] || fail "$ok/$N handshakes completed with a cookie from B's future"
    [ "$stale" -ge "$N" ] || fail "B rejected only $stale as stale"
    [ "$(validated B)" -eq "$vb0" ] || fail "B validated cookies from its future"
    probes=$((probe - 42000))  # the first one included
    wait_until 10 "[ \$(validated B) -ge $((total_b0 + 2 * N + probes)) ]" || true
    vb=$(($(validated B) - total_b0))
    va=$(($(validated A) - total_a0))
    sa=$(($(cookies_sent A) - sent_a0))
    echo "cross: A sent $sa cookies and validated $va; B validated $vb ($((2 * N)) cross-gateway + $probes direct)"
    [ "$va" -eq 0 ] || fail "A validated $va cookies: the ACKs were not all steered to B"
    [ "$sa" -eq $((3 * N)) ] || fail "A sent $sa cookies, expected $((3 * N))"
    [ "$vb" -eq $((2 * N + probes)) ] || fail "B validated $vb, expected $((2 * N)) + $probes"
    echo PASS live_fleet cross
    ;;
  failover | synproxy)
    fleet_up
    fleet_backup
    lab_server "$PORT" --backlog 128
    for g in A B; do
      # Mid-stream window tracking on the backup: committed entries carry no window history,
      # as conntrackd's documentation notes (liberal TCP tracking on replicated gateways).
      lab_ns "$(fleet_ns "$g")" sysctl -qw net.netfilter.nf_conntrack_tcp_be_liberal=1 2>/dev/null ||
        lab_ns "$(fleet_ns "$g")" nft add table ip ctload  # loads conntrack, then again
      lab_ns "$(fleet_ns "$g")" sysctl -qw net.netfilter.nf_conntrack_tcp_be_liberal=1
    done
    handoff=""
    if [ "$part" = failover ]; then
      share_key
      handoff="proxy:
  handoff: conntrack
"
      service_config "$LAB_DIR/sg.yaml" "$handoff"
    else
      for g in A B; do
        lab_ns "$(fleet_ns "$g")" sysctl -qw net.netfilter.nf_conntrack_tcp_loose=0
        lab_ns "$(fleet_ns "$g")" nft -f - <<NFT
table ip kernelsp {
  chain pre {
    type filter hook prerouting priority raw; policy accept;
    ip daddr $SERVER4 tcp dport $PORT tcp flags & (syn | ack) == syn notrack
  }
  chain fwd_synproxy {
    type filter hook forward priority filter; policy accept;
    ip daddr $SERVER4 tcp dport $PORT ct state invalid,untracked synproxy mss 1460 wscale 7 timestamp sack-perm
    ct state invalid drop
  }
}
NFT
      done
    fi
    fleet_conntrackd_start A
    fleet_conntrackd_start B
    if [ "$part" = failover ]; then
      sg_on A "$LAB_DIR/sg.yaml"
      sg_on B "$LAB_DIR/sg.yaml"
    fi
    # A gateway in service has met the server before: synguard learns the server's MSS and
    # window scale from its first proxied connection (that one's shifts may differ from the
    # guess, and it then stays in user space: result window_scale).
    lab_client --host "$SERVER4" --port "$PORT" --mode normal --count 1 --bytes 100 ||
      fail "a first connection through A"
    N=8
    pids=()
    for k in $(seq 0 $((N - 1))); do
      lab_client --host "$SERVER4" --port "$PORT" --mode download --bytes 1500000 --rate 100000 \
        --timeout 15 --sport $((43000 + k)) >"$LAB_DIR/dl.$k.log" 2>&1 &
      pids+=("$!")
    done
    # All running and partly transferred (at least 100 kB each), none finished.
    got() {
      lab_ns "$NS_C" ss -Htni state established "( sport >= :43000 and sport <= :43007 )" |
        grep -oE "bytes_received:[0-9]+" | cut -d: -f2 | awk '$1 >= 100000 { n++ } END { print n + 0 }'
    }
    wait_until 30 "[ \$(got) -eq $N ]" || fail "the $N downloads did not get going ($(got) did): $(cat "$LAB_DIR"/dl.*.log; lab_ns "$NS_C" ss -Htn)"
    if [ "$part" = synproxy ] || [ -n "$handoff" ]; then
      # What A's conntrack holds reaches B's external cache (FTFW; a second at most, waited for).
      ext() { fleet_conntrackd B -e 2>/dev/null | grep -c "dport=$PORT" || true; }
      wait_until 5 "[ \$(ext) -ge $N ]" || true
      echo "before the failure: A's conntrack $(lab_ns "$NS_GA" conntrack -L 2>/dev/null | grep -c "dport=$PORT" || true) entries for the service, B's external cache $(ext)"
    fi
    running=$(established 43000 43007)
    [ "$running" -eq "$N" ] || fail "only $running of $N downloads were still running at the failure"
    if [ "$part" = failover ]; then
      pa=$(validated A)
      echo "A: $pa cookies validated; handoffs: conntrack $(fleet_metric A 'synguard_proxy_handoffs_total{result="conntrack"}'), window_scale $(fleet_metric A 'synguard_proxy_handoffs_total{result="window_scale"}'), error $(fleet_metric A 'synguard_proxy_handoffs_total{result="error"}')"
      [ "$pa" -ge "$N" ] || fail "A did not proxy the downloads ($pa validated)"
      kill -9 "$(cat "$LAB_DIR/sg.A.pid")"
      wait "$(cat "$LAB_DIR/sg.A.pid")" 2>/dev/null || true
    fi
    kill -9 "$(cat "$LAB_DIR/ctd.A.pid")"
    wait "$(cat "$LAB_DIR/ctd.A.pid")" 2>/dev/null || true
    fleet_fail A
    fleet_vip_move B
    fleet_conntrackd B -c || fail "conntrackd -c on B"
    committed=$(lab_ns "$NS_GB" conntrack -L 2>/dev/null | grep -c "dport=$PORT" || true)
    t0=$(date +%s.%N)
    ok=0
    for p in "${pids[@]}"; do wait "$p" && ok=$((ok + 1)); done
    dt=$(python3 -c "print(round($(date +%s.%N) - $t0, 1))")
    learned=0
    if [ "$part" = failover ]; then  # before any connection of B's own
      learned=$(fleet_metric B synguard_proxy_handoff_learned_total)
    fi
    echo "$part: A died with $N downloads running; B committed $committed conntrack entries; $ok/$N downloads completed intact (sha256), the last $dt s after the failure"
    lab_client --host "$SERVER4" --port "$PORT" --mode normal --count 10 --bytes 1000 --timeout 5 ||
      fail "new connections through B after the failover"
    if [ "$part" = failover ]; then
      wait_until 10 '[ "$(validated B)" -ge 10 ]' || true
      vb=$(validated B)
      echo "failover: new connections through B: 10/10 ($vb cookies validated on B)"
      [ "$vb" -ge 10 ] || fail "B did not proxy the new connections ($vb validated)"
      echo "failover: B learned $learned handed-off connections from the entries conntrackd committed"
      [ "$learned" -eq "$committed" ] && [ "$learned" -ge "$N" ] ||
        fail "B learned $learned handed-off connections of the $committed committed"
      [ "$ok" -eq "$N" ] || fail "$ok/$N proxied downloads survived the failover with proxy.handoff: conntrack"
    else
      [ "$ok" -eq "$N" ] || fail "$ok/$N downloads survived the SYNPROXY + conntrackd failover"
    fi
    echo "PASS live_fleet $part"
    ;;
  *)
    fail "unknown part $part"
    ;;
esac
