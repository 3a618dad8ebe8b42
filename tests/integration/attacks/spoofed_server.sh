# shellcheck shell=bash
# spoofed_server: segments forged with the protected service's source address, sent from
# the client side. For each of 300 spoofed clients C:p (C in 203.0.113.0/24, and again over IPv6
# from 2001:db8:66::/120), from the attacker's namespace: a SYN-ACK S:8080 -> C:p (ack = x+1), a
# plain ACK S:8080 -> C:p, then the SYN C:p -> S:8080 with sequence number x
# (scripts/lab/spoofserver.py). The service is in `mode: always`; legitimate clients connect
# throughout.
#   1. anti_spoofing: auto (the kernel's routes; the gateway routes the service's prefixes
#      through gs, the forged segments arrive on ga): 0 of the 600 SYNs reach the server, the
#      metric counts exactly the 1200 forged segments, every legitimate connection succeeds.
#   2. reloaded with server_interfaces: [gs]: the same (the metric carries on across the
#      re-installed rules: 2400).
#   3. reloaded with anti_spoofing: off: the forged segments reach the queue (its rule counter),
#      the anti-spoofing metric does not move, and the engine alone holds: the 1200 forged
#      segments are dropped as server-side strays, 0 of the 600 SYNs reach the server.
# Sourced by live_attacks.sh after lab_up ($synguard, $root, $PORT, fail, sg_stop).
# shellcheck disable=SC2154  # $root is set by live_attacks.sh
lab_server "$PORT" --backlog 128
lab_flood_routes                                          # 2001:db8:66::/48 back to the attacker
lab_ns "$NS_A" ip -6 route add default via 2001:db8:a::1  # the attacker's IPv6 way out
lab_ns "$NS_S" nft -f - <<'NFT'
table inet spoofcount {
  chain input {
    type filter hook input priority 0; policy accept;
    ip saddr 203.0.113.0/24 tcp flags & (syn | ack) == syn counter
    ip6 saddr 2001:db8:66::/48 tcp flags & (syn | ack) == syn counter
  }
}
NFT
syns_at_server() {
  lab_ns "$NS_S" nft list table inet spoofcount |
    awk '{ for (i = 1; i < NF; i++) if ($i == "packets") n += $(i + 1) } END { print n + 0 }'
}
cfg="$LAB_DIR/synguard.yaml"
write_cfg() {  # write_cfg EXTRA-SERVICE-LINES
  cat >"$cfg.new" <<EOF2
services:
  - name: web
    addresses: [$SERVER4/32, $SERVER6/128]
    ports: [$PORT]
    mode: always
$1
EOF2
  mv "$cfg.new" "$cfg"
}
spoof_metric() { metric 'synguard_spoofed_service_source_dropped_total{service="web"}'; }
# wait_metric EXPECTED: the rule counters are read every 0.5 s.
wait_metric() {
  local v=""
  for _ in $(seq 1 100); do
    v=$(spoof_metric)
    [ "$v" = "$1" ] && return 0
    sleep 0.1
  done
  fail "spoofed-source drops: expected $1, the metric says $v"
}
reload() {  # reload EXTRA-SERVICE-LINES
  local before
  before=$(grep -c "configuration reloaded" "$LAB_DIR/sg.log" || true)
  write_cfg "$1"
  kill -HUP "$SG_PID"
  for _ in $(seq 1 100); do
    [ "$(grep -c "configuration reloaded" "$LAB_DIR/sg.log" || true)" -gt "$before" ] && return 0
    sleep 0.05
  done
  fail "the reload did not happen: $(tail -3 "$LAB_DIR/sg.log")"
}
# attack LABEL: the 300 + 300 triples from the attacker, legitimate connections meanwhile; sets
# SYNS_REACHED (spoofed SYNs the server saw) and LEGIT (the client's summary, or "" if not
# asserted: pass "nolegit" as the second argument).
attack() {
  local before client=""
  before=$(syns_at_server)
  if [ "${2:-}" != nolegit ]; then
    lab_client --host "$SERVER4" --port "$PORT" --mode normal --count 40 --bytes 1000 \
      --gap 0.05 >"$LAB_DIR/legit.$1.log" 2>&1 &
    client=$!
  fi
  lab_ns "$NS_A" python3 "$root/scripts/lab/spoofserver.py" --server "$SERVER4" --port "$PORT" \
    --server6 "$SERVER6" --count 300 >"$LAB_DIR/spoof.$1.log" 2>&1 ||
    fail "$1: $(cat "$LAB_DIR/spoof.$1.log")"
  grep -q "1200 forged service segments, 600 SYNs sent, 0 send errors" "$LAB_DIR/spoof.$1.log" ||
    fail "$1: $(cat "$LAB_DIR/spoof.$1.log")"
  LEGIT=""
  if [ -n "$client" ]; then
    wait "$client" || fail "$1: legitimate connections: $(cat "$LAB_DIR/legit.$1.log")"
    LEGIT=$(tail -1 "$LAB_DIR/legit.$1.log")
  fi
  sleep 1  # the last SYNs' verdicts, then the server's counter
  SYNS_REACHED=$(($(syns_at_server) - before))
}

# 1. The kernel's routes.
write_cfg ""
sg_launch --config "$cfg" --queues 2
for a in "$SERVER4/32" "$SERVER6/128"; do
  grep -q "anti-spoofing: service web: $a: routed through gs" "$LAB_DIR/sg.log" ||
    fail "the derived topology is not logged for $a: $(grep anti-spoofing "$LAB_DIR/sg.log")"
done
[ "$(spoof_metric)" = 0 ] || fail "spoofed-source drops before the attack: $(spoof_metric)"
attack auto
echo "auto: $SYNS_REACHED of 600 spoofed SYNs reached the server; legitimate: $LEGIT"
[ "$SYNS_REACHED" -eq 0 ] || fail "auto: $SYNS_REACHED spoofed SYNs reached the server"
wait_metric 1200

# 2. An explicit server side, by reload.
reload "    server_interfaces: [gs]"
grep -q "rules re-installed" "$LAB_DIR/sg.log" || fail "server_interfaces: rules not re-installed"
grep -q "anti-spoofing: service web: its segments are accepted only from gs" "$LAB_DIR/sg.log" ||
  fail "server_interfaces: not logged"
rules_now=$(lab_ns "$NS_G" nft list chain inet synguard antispoof)
grep -qE 'iifname != \{ ("lo", "gs"|"gs", "lo") \}' <<<"$rules_now" ||
  fail "server_interfaces: not in the rules: $rules_now"
attack interfaces
echo "server_interfaces: $SYNS_REACHED of 600 spoofed SYNs reached the server; legitimate: $LEGIT"
[ "$SYNS_REACHED" -eq 0 ] || fail "server_interfaces: $SYNS_REACHED spoofed SYNs reached the server"
wait_metric 2400

# 3. Turned off: the forged segments reach the queue; the rule is gone and counts nothing. The
# engine's own defence then holds alone: no entry from a cookie-mode service's side (each forged
# segment dropped as server_side_stray), the SYNs answered with cookies, none at the server.
reload "    anti_spoofing: off"
if lab_ns "$NS_G" nft list chain inet synguard antispoof >/dev/null 2>&1; then
  fail "anti_spoofing: off still has the antispoof chain"
fi
grep -q "anti-spoofing: service web: off" "$LAB_DIR/sg.log" || fail "off: not logged"
sleep 1
queued_before=$(metric synguard_queue_rule_packets_total)
attack off nolegit
queued=""
for _ in $(seq 1 50); do
  queued=$(($(metric synguard_queue_rule_packets_total) - queued_before))
  [ "$queued" -ge 1800 ] && break
  sleep 0.1
done
echo "off: $queued packets queued, $SYNS_REACHED of 600 spoofed SYNs reached the server"
[ "$queued" -ge 1800 ] || fail "off: only $queued packets reached the queue (1200 forged + 600 SYNs sent)"
[ "$(spoof_metric)" = 2400 ] || fail "off: the spoofed-source metric moved: $(spoof_metric)"
strays=""
for _ in $(seq 1 100); do
  strays=$(metric synguard_server_side_drops_total)
  [ "$strays" = 1200 ] && break
  sleep 0.1
done
echo "off: the engine dropped $strays forged segments as server-side strays"
[ "$strays" = 1200 ] || fail "off: $strays server-side strays dropped by the engine (1200 forged)"
[ "$SYNS_REACHED" -eq 0 ] || fail "off: $SYNS_REACHED spoofed SYNs reached the server past the engine"
sg_stop
lab_ns "$NS_G" nft list tables | grep synguard >/dev/null && fail "our table is left after the stop"
lab_ns "$NS_S" nft delete table inet spoofcount
