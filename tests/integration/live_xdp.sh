#!/usr/bin/env bash
# The XDP fast path, live (issue #16): synguard attaches its XDP program to the gateway's
# client-facing veths (gc: the client's, ga: the attacker's) and answers SYNs to cookie-mode
# services there; everything else takes the NFQUEUE path as before.
#   cookie        an `always` service, XDP in generic and then in native mode: connections and
#                 transfers (sha256) through the proxy succeed, their SYNs are answered in XDP
#                 and none reaches the queue
#   adaptive      a spoofed flood against an adaptive service: the queue's engine enters cookie
#                 mode, XDP takes over the SYNs, the flood reaches the server only before that,
#                 and the service leaves cookie mode after the flood (XDP's counts keep it in)
#   kill9         kill -9 of the daemon detaches the program (BPF links die with it) and
#                 traffic keeps flowing (fail-open)
#   native_error  `mode: native` on an interface whose driver has no native XDP (a bridge) fails to start
#                 with an error naming it; check-config names a missing interface
# Veth on this kernel (docs/XDP.md): the client's and the attacker's ends get a pass-through
# XDP program and no tx checksum offload (lab_peer_xdp says why).
set -euo pipefail
synguard="${1:?usage: live_xdp.sh SYNGUARD_BINARY PART}"
part="${2:?part: cookie|adaptive|kill9|native_error}"
here="$(cd "$(dirname "$0")" && pwd)"
lab="$here/../../scripts/lab"
LAB_ID="sgx$$"
source "$lab/netns.sh"
source "$here/lib.sh"
PORT=8080
MB=$((1024 * 1024))
SG_STOP_VERIFY=1

command -v clang >/dev/null || fail "clang is missing (scripts/install-deps.sh)"
command -v ethtool >/dev/null || fail "ethtool is missing (scripts/install-deps.sh)"

lab_up
cfg="$LAB_DIR/synguard.yaml"

# write_config MODE XDP_MODE IFACES [extra YAML lines]: one service "web" on the server's
# addresses and PORT.
write_config() {
  local mode="$1" xdp_mode="$2" ifaces="$3"
  shift 3
  {
    echo "queues: {count: 2}"
    echo "services:"
    echo "  - name: web"
    echo "    addresses: [$SERVER4/32, \"$SERVER6/128\"]"
    echo "    ports: [$PORT]"
    echo "    mode: $mode"
    for line in "$@"; do echo "    $line"; done
    echo "xdp:"
    echo "  interfaces: [$ifaces]"
    echo "  mode: $xdp_mode"
    echo "logging: {level: info}"
  } >"$cfg"
}

lab_peer_xdp "$NS_C" "$NS_A"

xdp_of() {  # xdp_of IFACE: "attached" when the gateway's IFACE has an XDP program, else "none"
  if lab_ns "$NS_G" ip -d link show dev "$1" | grep -q "prog/xdp"; then echo attached; else echo none; fi
}

xdp_tx() { metric "synguard_xdp_packets_total{action=\"tx\",interface=\"$1\",reason=\"cookie\"}"; }

case "$part" in
  cookie)
    lab_server "$PORT" --ipv6
    for xmode in generic native; do
      write_config always "$xmode" "gc, ga"
      lab_ns "$NS_G" "$synguard" check-config "$cfg" || fail "check-config refused $cfg"
      sg_start --config "$cfg" --stats-interval 1
      grep -E "xdp: (gc|ga): attached in" "$LAB_DIR/sg.log" | tail -2
      grep -q "xdp: gc: attached in $xmode mode" "$LAB_DIR/sg.log" || fail "gc not attached in $xmode mode"
      [ "$(metric "synguard_xdp_attached{interface=\"gc\",mode=\"$xmode\"}")" = 1 ] ||
        fail "synguard_xdp_attached does not say $xmode for gc"
      syns0=$(metric 'synguard_service_syns_received_total{service="web"}')
      lab_client --host "$SERVER4" --port "$PORT" --mode normal --count 30 --bytes 2000 \
        --timeout 5 || fail "$xmode: IPv4 connections through the XDP-answered cookies"
      lab_client --host "$SERVER6" --port "$PORT" --mode normal --count 10 --bytes 2000 \
        --timeout 5 || fail "$xmode: IPv6 connections"
      lab_client --host "$SERVER4" --port "$PORT" --mode download --bytes $((20 * MB)) \
        --timeout 60 || fail "$xmode: proxied download (sha256)"
      lab_client --host "$SERVER4" --port "$PORT" --mode upload --bytes $((20 * MB)) \
        --timeout 60 || fail "$xmode: proxied upload (sha256)"
      lab_ns "$NS_C" sysctl -qw net.ipv4.tcp_timestamps=0
      lab_client --host "$SERVER4" --port "$PORT" --mode normal --count 5 --bytes 2000 \
        --timeout 5 || fail "$xmode: a client without timestamps"
      lab_ns "$NS_C" sysctl -qw net.ipv4.tcp_timestamps=1
      metrics_settle || fail "the daemon's counters did not settle"
      tx=$(xdp_tx gc)
      syns=$(($(metric 'synguard_service_syns_received_total{service="web"}') - syns0))
      cookies=$(metric 'synguard_cookies_sent_total{service="web"}')
      validated=$(metric_sum synguard_cookies_validated_total)
      echo "$xmode: XDP answered $tx SYNs on gc; the engine counted $syns SYNs, $cookies cookies, $validated validated"
      # 47 connections (and no SYN retransmission on a quiet lab, but allow for them).
      [ "$tx" -ge 47 ] || fail "$xmode: XDP answered $tx SYNs, expected >= 47"
      # Every SYN the engine counted is one XDP answered: none reached the queue.
      [ "$syns" -eq "$tx" ] || fail "$xmode: $syns SYNs counted but XDP answered $tx: some reached the queue"
      [ "$validated" -ge 47 ] || fail "$xmode: only $validated cookies validated by the engine"
      scrape | grep -E '^synguard_xdp_packets_total\{action="[a-z]*",interface="gc"' | awk '$2 > 0' | sed 's/^/  /'
      sg_stop
      [ "$(xdp_of gc)" = none ] || fail "$xmode: the program is still attached after the stop"
    done
    echo PASS live_xdp cookie
    ;;
  adaptive)
    lab_server "$PORT"
    lab_flood_routes
    write_config adaptive generic "gc, ga" "half_open: {on: 100000, off: 50000}" \
      "syn_rate: {on: 300, off: 100}" "hold: 2s"
    sg_start --config "$cfg" --stats-interval 1
    # What of the flood reaches the server (the spoofed range only).
    lab_ns "$NS_S" nft -f - <<'NFT'
table inet count {
  chain in { type filter hook input priority 0; policy accept;
    ip saddr 203.0.113.0/24 tcp flags syn counter
  }
}
NFT
    lab_flood_conf v4 "$PORT" "$LAB_DIR/syn.cfg" syn
    lab_flood "$LAB_DIR/syn.cfg" 12 2000pps "$LAB_DIR/flood.log" 24000
    wait_until 10 '[ "$(metric "synguard_service_mode{mode=\"cookie\",service=\"web\"}")" = 1 ]' ||
      fail "the flood did not switch the service to cookie mode"
    wait_until 10 '[ "$(xdp_tx ga)" -gt 500 ]' || fail "XDP does not answer the flood's SYNs"
    at_server=$(lab_ns "$NS_S" nft list table inet count | grep -oE 'packets [0-9]+' | cut -d' ' -f2)
    # Legitimate clients connect throughout.
    lab_client --host "$SERVER4" --port "$PORT" --mode normal --count 20 --bytes 1000 \
      --timeout 5 || fail "legitimate connections during the flood"
    wait "$LAB_FLOOD_PID" || true
    sent=$(lab_flood_sent "$LAB_DIR/flood.log")
    tx=$(xdp_tx ga)
    at_server_end=$(lab_ns "$NS_S" nft list table inet count | grep -oE 'packets [0-9]+' | cut -d' ' -f2)
    echo "flood: $sent SYNs sent; XDP answered $tx on ga; at the server: $at_server when XDP took over, $at_server_end at the end"
    # Once XDP answers, no spoofed SYN reaches the server.
    [ "$at_server_end" -eq "$at_server" ] || fail "$((at_server_end - at_server)) spoofed SYNs reached the server after XDP took over"
    [ "$(metric "synguard_service_mode{mode=\"cookie\",service=\"web\"}")" = 1 ] ||
      fail "the service left cookie mode while the flood lasted"
    # The flood has ended: the smoothed rate decays and the hold passes.
    wait_until 60 '[ "$(metric "synguard_service_mode{mode=\"normal\",service=\"web\"}")" = 1 ]' ||
      fail "the service did not leave cookie mode after the flood"
    echo "left cookie mode after the flood; transitions: $(metric 'synguard_service_mode_transitions_total{service="web"}')"
    # Normal mode: SYNs pass to the queue again.
    before=$(metric 'synguard_xdp_packets_total{action="pass",interface="gc",reason="normal"}')
    lab_client --host "$SERVER4" --port "$PORT" --mode normal --count 5 --bytes 1000 \
      --timeout 5 || fail "connections after the flood"
    wait_until 5 '[ "$(metric "synguard_xdp_packets_total{action=\"pass\",interface=\"gc\",reason=\"normal\"}")" -ge $((before + 5)) ]' ||
      fail "SYNs in normal mode were not passed as normal"
    sg_stop
    echo PASS live_xdp adaptive
    ;;
  kill9)
    lab_server "$PORT"
    write_config always native "gc"
    sg_start --config "$cfg"
    [ "$(xdp_of gc)" != none ] || fail "not attached"
    lab_client --host "$SERVER4" --port "$PORT" --mode normal --count 5 --bytes 1000 \
      --timeout 5 || fail "connections before the kill"
    kill -9 "$SG_PID"
    wait "$SG_PID" 2>/dev/null || true
    wait_until 5 '[ "$(xdp_of gc)" = none ]' || fail "the XDP program outlived the daemon: $(xdp_of gc)"
    lab_client --host "$SERVER4" --port "$PORT" --mode normal --count 20 --bytes 1000 \
      --timeout 2 || fail "new connections after kill -9 (no fail-open)"
    echo PASS live_xdp kill9
    ;;
  native_error)
    lab_ns "$NS_G" ip link add xd0 type bridge
    lab_ns "$NS_G" ip link set xd0 up
    write_config always native "xd0"
    rc=0
    timeout 30 ip netns exec "$NS_G" "$synguard" run --config "$cfg" --key-file "$LAB_DIR/cookie.key" \
      >"$LAB_DIR/native.log" 2>&1 || rc=$?
    cat "$LAB_DIR/native.log" | tail -3
    [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "mode native on a bridge (no native XDP): exit $rc"
    grep -q "xd0" "$LAB_DIR/native.log" && grep -qi "native" "$LAB_DIR/native.log" ||
      fail "the error does not name the interface and native mode"
    [ "$(xdp_of xd0)" = none ] || fail "something stayed attached to xd0"
    # auto on the same interface falls back to generic, and says so.
    write_config always auto "xd0"
    sg_start --config "$cfg"
    grep -q "xdp: xd0: attached in generic mode" "$LAB_DIR/sg.log" || fail "auto did not fall back to generic"
    sg_stop
    # check-config names an interface that does not exist.
    write_config always auto "nosuch0"
    rc=0
    lab_ns "$NS_G" "$synguard" check-config "$cfg" >"$LAB_DIR/check.log" 2>&1 || rc=$?
    cat "$LAB_DIR/check.log"
    grep -q "nosuch0" "$LAB_DIR/check.log" || fail "check-config did not name the missing interface"
    echo PASS live_xdp native_error
    ;;
  *)
    fail "unknown part $part"
    ;;
esac
