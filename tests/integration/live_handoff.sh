#!/usr/bin/env bash
# proxy.handoff conntrack on a namespace gateway: established proxied connections are handed
# to the kernel as conntrack entries carrying their sequence (and timestamp) adjustment.
#   live_handoff.sh SYNGUARD PART
# transfers     every connection proxied (mode: always): transfers each way intact (sha256) with
#               the client's timestamps on, then off; conntrack holds the entries with our mark
#               and a sequence adjustment while they live, none once they closed (the engine
#               told of each end); once an echo connection's tuple is in the set, none of its
#               segments go through the queue (the kernel translates them: the ct-mark counter
#               of our forward chain)
# window_scale  a server that does not scale windows while we announced a scale: the first
#               connection stays in user space (counted window_scale) and is intact; the next
#               (the learned profile announces no scale) is handed off
# ipv6          the same transfers over IPv6: handed off, intact, outside the queue
set -euo pipefail
synguard="${1:?usage: live_handoff.sh SYNGUARD_BINARY PART}"
part="${2:?part: transfers|window_scale|ipv6}"
here="$(cd "$(dirname "$0")" && pwd)"
lab="$here/../../scripts/lab"
LAB_ID="sgh$$"
# shellcheck source=../../scripts/lab/netns.sh
source "$lab/netns.sh"
# shellcheck source=lib.sh
source "$here/lib.sh"
PORT=8080
MB=$((1024 * 1024))
BYTES=${SYNGUARD_HANDOFF_BYTES:-$((4 * MB))}
MARK=0x5e000005

command -v conntrack >/dev/null || fail "the conntrack tool (package conntrack) is needed"

lab_up
lab_server "$PORT" --backlog 128 --ipv6
cfg="$LAB_DIR/synguard.yaml"
cat >"$cfg" <<EOF
services:
  - name: web
    addresses: [$SERVER4/32, "$SERVER6/128"]
    ports: [$PORT]
    mode: always
proxy:
  handoff: conntrack
stats_interval: 1s
EOF
"$synguard" check-config "$cfg" || fail "check-config refused the configuration"

handoffs() { metric "synguard_proxy_handoffs_total{result=\"$1\"}"; }
ends() { metric "synguard_proxy_handoff_ends_total{how=\"$1\"}"; }
queued() { metric_sum synguard_queue_packets_total; }
# Packets conntrack forwarded with our entries' mark (the kernel translated them).
kernel_forwarded() {
  lab_ns "$NS_G" nft list chain inet synguard handoff_forward |
    awk '/counter packets/ { for (i = 1; i <= NF; i++) if ($i == "packets") print $(i + 1) }'
}

# after_handoff HOST SET: one echo connection; from the moment its tuple is in the handoff set
# until it has closed, its segments go through the kernel, none through the queue (the figures
# before that moment depend on how fast the handoff thread ran, and are only reported).
after_handoff() {
  local q0 k0 q1 k1 q2 k2 echo_pid
  q0=$(queued)
  k0=$(kernel_forwarded)
  lab_client --host "$1" --port "$PORT" --mode echo --seconds 6 >/dev/null &
  echo_pid=$!
  wait_until 10 "lab_ns \"$NS_G\" nft list set inet synguard $2 | grep -q '. $PORT'" ||
    fail "$2: the echo connection never entered the set"
  metrics_settle || fail "the figures did not settle during the echo"
  q1=$(queued)
  k1=$(kernel_forwarded)
  wait "$echo_pid" || fail "$2: the echo connection failed"
  metrics_settle || true
  q2=$(queued)
  k2=$(kernel_forwarded)
  echo "$2 echo: before its handoff $((q1 - q0)) segments queued, $((k1 - k0)) by conntrack;" \
    "after it $((q2 - q1)) queued, $((k2 - k1)) by conntrack"
  [ $((k2 - k1)) -gt 100 ] || fail "$2: conntrack forwarded only $((k2 - k1)) segments after the handoff"
  [ $((q2 - q1)) -le 3 ] || fail "$2: $((q2 - q1)) segments went through the queue after the handoff"
}

# transfer_round LABEL N: N downloads and N uploads of BYTES, all intact.
transfer_round() {
  lab_client --host "$SERVER4" --port "$PORT" --mode download --bytes "$BYTES" --count "$2" \
    --timeout 60 || fail "$1: a download was not intact"
  lab_client --host "$SERVER4" --port "$PORT" --mode upload --bytes "$BYTES" --count "$2" \
    --timeout 60 || fail "$1: an upload was not intact"
}

case "$part" in
  transfers)
    sg_start --config "$cfg" --queues 2
    lab_ns "$NS_G" nft list table inet synguard | grep -q "chain handoff " ||
      fail "the handoff chain is missing from our table"
    # The first proxied connection teaches the service's profile the server's window scale
    # (until then our cookies announce Linux's default, 7): kept in user space if they differ.
    lab_client --host "$SERVER4" --port "$PORT" --mode normal --count 1 || fail "warm-up"
    wait_until 10 "[ \$((\$(handoffs conntrack) + \$(handoffs window_scale))) -ge 1 ]" ||
      fail "the warm-up connection was not offered"
    scale0=$(handoffs window_scale)
    for ts in 1 0; do
      lab_ns "$NS_C" sysctl -qw net.ipv4.tcp_timestamps="$ts"
      before=$(handoffs conntrack)
      transfer_round "timestamps $ts" 3
      wait_until 10 "[ \$(handoffs conntrack) -ge \$((before + 6)) ]" ||
        fail "timestamps $ts: $(($(handoffs conntrack) - before)) of 6 connections handed off; $(scrape | grep -E "handoff|proxied_conn|proxy_")"
      echo "timestamps $ts: 6 transfers of $BYTES bytes intact, handed off"
    done
    lab_ns "$NS_C" sysctl -qw net.ipv4.tcp_timestamps=1
    [ "$(handoffs error)" -eq 0 ] || fail "handoff errors: $(handoffs error)"
    [ "$(handoffs window_scale)" -eq "$scale0" ] || fail "window-scale refusals after the warm-up"
    [ "$(metric synguard_proxy_handoff_learned_total)" -ge 12 ] ||
      fail "tuples learned from conntrack: $(metric synguard_proxy_handoff_learned_total)"
    # Every one closed: the engine was told (its TIME-WAIT holds the tuple now: conntrack saw
    # the close, or the close came through the queue and the engine took it back; a reset one
    # is gone when conntrack's CLOSE runs out, 10 s), and no entry of ours is left.
    ended() { echo $(($(ends closed) + $(ends gone) + $(ends taken_back))); }
    wait_until 30 "[ \$(ended) -ge 12 ]" ||
      fail "ends reported: $(ended) of 12+; $(scrape | grep -E 'handoff|verdicts_total')"
    echo "ends: closed $(ends closed), gone $(ends gone), taken back $(ends taken_back)"
    wait_until 30 "! lab_ns \"$NS_G\" conntrack -L -p tcp --mark $MARK 2>/dev/null | grep -q dport=$PORT" ||
      fail "entries of closed connections left: $(lab_ns "$NS_G" conntrack -L -p tcp --mark "$MARK" 2>/dev/null)"
    # A long connection whose entry we read while it is established.
    lab_client --host "$SERVER4" --port "$PORT" --mode echo --seconds 3 >/dev/null &
    echo_pid=$!
    wait_until 10 "lab_ns \"$NS_G\" conntrack -L -p tcp --mark $MARK --state ESTABLISHED 2>/dev/null | grep -q dport=$PORT" ||
      fail "no established entry of ours during an echo connection"
    wait "$echo_pid" || fail "the echo connection failed"
    metrics_settle || true
    echo "segments: $(queued) through the queue, $(kernel_forwarded) translated by conntrack"
    after_handoff "$SERVER4" handoff4
    sg_stop
    ;;
  window_scale)
    lab_ns "$NS_S" sysctl -qw net.ipv4.tcp_window_scaling=0
    sg_start --config "$cfg" --queues 1
    transfer_round "server without window scaling" 1
    wait_until 10 "[ \$(handoffs window_scale) -ge 1 ]" || fail "no window-scale refusal counted"
    first=$(handoffs window_scale)
    echo "first connections kept in user space: $first (window_scale), intact"
    # The profile learned the server's SYN-ACK: our cookies announce no scale any more.
    transfer_round "after the profile learned" 2
    wait_until 10 "[ \$(handoffs conntrack) -ge 4 ]" ||
      fail "later connections not handed off: $(handoffs conntrack)"
    [ "$(handoffs window_scale)" -eq "$first" ] || fail "more window-scale refusals later"
    [ "$(handoffs error)" -eq 0 ] || fail "handoff errors: $(handoffs error)"
    sg_stop
    ;;
  ipv6)
    sg_start --config "$cfg" --queues 2
    lab_client --host "$SERVER6" --port "$PORT" --mode normal --count 1 || fail "warm-up"
    wait_until 10 "[ \$((\$(handoffs conntrack) + \$(handoffs window_scale))) -ge 1 ]" ||
      fail "the warm-up connection was not offered"
    before=$(handoffs conntrack)
    lab_client --host "$SERVER6" --port "$PORT" --mode download --bytes "$BYTES" --count 3 \
      --timeout 60 || fail "an IPv6 download was not intact"
    lab_client --host "$SERVER6" --port "$PORT" --mode upload --bytes "$BYTES" --count 3 \
      --timeout 60 || fail "an IPv6 upload was not intact"
    wait_until 10 "[ \$(handoffs conntrack) -ge \$((before + 6)) ]" ||
      fail "IPv6: $(($(handoffs conntrack) - before)) of 6 connections handed off"
    # Their ends reached the engine, and their entries are gone (as over IPv4).
    wait_until 30 "[ \$((\$(ends closed) + \$(ends gone) + \$(ends taken_back))) -ge \$(handoffs conntrack) ]" ||
      fail "IPv6: ends reported: $(scrape | grep -E 'handoff_ends')"
    wait_until 30 "! lab_ns \"$NS_G\" conntrack -L -f ipv6 -p tcp --mark $MARK 2>/dev/null | grep -q dport=$PORT" ||
      fail "IPv6 entries of closed connections left"
    metrics_settle || true
    echo "IPv6 segments: $(queued) through the queue, $(kernel_forwarded) translated by conntrack"
    after_handoff "$SERVER6" handoff6
    [ "$(handoffs error)" -eq 0 ] || fail "handoff errors: $(handoffs error)"
    sg_stop
    ;;
  *) fail "unknown part $part" ;;
esac
echo "PASS live_handoff $part"
