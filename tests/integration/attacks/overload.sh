# shellcheck shell=bash
# overload (attack 4, "a fast flood fails open"): the daemon's queues overflow under a spoofed
# SYN flood. Sourced by live_attacks.sh after lab_up ($synguard, $PORT, fail, sg_stop).
# The overflow is made deterministic: the daemon is stalled (SIGSTOP) while trafgen sends a
# counted flood (100,000 packets, at most 60 s), more than its queues hold (2 queues x 32768),
# however slowly a busy machine sends them. The server's namespace
# counts, in an nft table of its own, what reaches it from the spoofed range.
#  1. tracked: normal mode (drop_syn), 2 queues, pickup off: connections from 16 client
#     addresses (both workers) are tracked through the handshake although their SYNs come
#     through the SYN queues and the rest through the regular ones: the same worker for both
#     (no segment found its connection missing).
#  2. drop_syn, mode always: a SYN flood during the stall: 0 spoofed SYNs reach the server, the
#     kernel's drops are counted (synguard_overload_syns_dropped_total), nothing passed without
#     a verdict (synguard_queue_unprotected_packets_total 0: the accounting stays exact);
#     legitimate clients connect after the stall.
#  3. the same with an ACK flood: other segments still fail open (spoofed ACKs reach the server,
#     counted as unprotected), the SYN queue's drop count does not move.
#  4. overload: pass (a reload re-installs the rules): the SYN flood passes as before, counted as
#     unprotected; no kernel drop.
#  5. SIGKILL: with no daemon bound, everything passes (the rules' bypass): spoofed SYNs reach
#     the server, legitimate clients connect.
PORT2=8081
lab_server "$PORT" --backlog 128
lab_server "$PORT2" --backlog 128
lab_flood_routes
lab_ns "$NS_S" nft -f - <<NFT
table inet ovl {
  counter syn {}
  counter ack {}
  chain pre {
    type filter hook prerouting priority -500; policy accept;
    ip saddr $SPOOF_NET tcp flags & (syn | ack | fin | rst) == syn counter name syn
    ip saddr $SPOOF_NET tcp flags & (syn | ack | fin | rst) == ack counter name ack
  }
}
NFT
at_server() {  # at_server syn|ack -> spoofed packets of that kind that reached the server
  lab_ns "$NS_S" nft list counter inet ovl "$1" | sed -n 's/.*packets \([0-9]*\).*/\1/p'
}
cfg="$LAB_DIR/overload.yaml"
write_cfg() {  # write_cfg OVERLOAD
  cat >"$cfg" <<YAML
queues: {count: 2}
table: {pickup_midstream: false}
services:
  - name: web
    addresses: [$SERVER4/32]
    ports: [$PORT]
    mode: always
    overload: $1
  - name: tracked
    addresses: [$SERVER4/32]
    ports: [$PORT2]
    mode: adaptive
YAML
}
# stalled_flood KIND: stops the daemon, sends 100,000 packets (60 kpps, 60 s at most), lets it
# run again and waits until it has worked off its queues (the backlog is 0 again).
FLOOD_COUNT=100000
stalled_flood() {
  lab_flood_conf v4 "$PORT" "$LAB_DIR/flood.$1.cfg" "$1"
  kill -STOP "$SG_PID"
  lab_ns "$NS_A" timeout 60 trafgen --cpp -o eth0 --cpus 1 -c "$LAB_DIR/flood.$1.cfg" \
    -n "$FLOOD_COUNT" -b 60000pps >"$LAB_DIR/trafgen.$1.log" 2>&1 || true
  kill -CONT "$SG_PID"
  for _ in $(seq 1 100); do
    sleep 0.2
    backlog=$(queue_waiting)
    [ "$backlog" -eq 0 ] && break
  done
  metrics_settle || fail "the counters did not settle after the flood"
  kill -0 "$SG_PID" || fail "the daemon died after the overflow"
}

write_cfg drop_syn
sg_launch --config "$cfg"
rules=$(lab_ns "$NS_G" nft list ruleset)
# nft, or the xt fallback as nft lists it: SYNs to the service go to queues 2-3.
syn_rule() { grep -qE "tcp (dport \{ )?$1 .*tcp flags & \(syn \| ack \| fin \| rst\) == syn .*queue num 2-3|tcp flags syn / fin,syn,rst,ack tcp dport $1 .*queue num 2-3" <<<"$2"; }
syn_rule "$PORT" "$rules" || fail "no SYN-queue rule in the installed ruleset: $rules"

# 1. Normal mode through two queues: each connection's SYN (SYN queue) and its SYN-ACK and
# ACKs (regular queue) reach the same worker.
for i in $(seq 20 35); do lab_ns "$NS_C" ip addr add "192.0.2.$i/25" dev eth0; done
lab_ns "$NS_C" python3 - "$SERVER4" "$PORT2" <<'PY' || fail "normal-mode connections from 16 addresses"
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
for i in range(20, 36):
    s = socket.socket()
    s.settimeout(5)
    s.bind(("192.0.2.%d" % i, 0))
    s.connect((host, port))
    s.sendall(b"DATA 2000\n")
    got = 0
    while got < 2000:
        b = s.recv(65536)
        if not b:
            break
        got += len(b)
    assert got == 2000, got
    s.close()
print("16 connections from 16 addresses")
PY
metrics_settle || fail "the counters did not settle"
untracked=$(metric 'synguard_verdicts_total{reason="untracked",verdict="accept"}')
invalid=$(metric_sum synguard_invalid_segments_total)
q0=$(metric 'synguard_queue_packets_total{queue="0"}')
q1=$(metric 'synguard_queue_packets_total{queue="1"}')
q2=$(metric 'synguard_queue_packets_total{queue="2"}')
q3=$(metric 'synguard_queue_packets_total{queue="3"}')
ended=$(metric_sum synguard_connections_ended_total)
tw=$(metric 'synguard_connections{state="time_wait"}')
echo "tracked: queues 0..3 got $q0 $q1 $q2 $q3 packets; untracked $untracked, invalid $invalid, time-wait $tw, ended $ended"
[ "$q0" -gt 0 ] && [ "$q1" -gt 0 ] || fail "the 16 addresses did not spread over both workers"
[ "$q2" -gt 0 ] && [ "$q3" -gt 0 ] || fail "the SYNs did not come through both SYN queues"
[ "$untracked" -eq 0 ] || fail "$untracked segments found no connection: SYN and SYN-ACK on different workers"
[ "$invalid" -eq 0 ] || fail "$invalid invalid segments in normal-mode connections"
[ $((tw + ended)) -ge 16 ] || fail "not every connection was tracked to its close"
[ "$(metric 'synguard_syn_queue_drops_on_overflow{queue="2"}')" = 1 ] ||
  fail "the SYN queue fails open although 'web' is in cookie mode"

# 2. drop_syn: a SYN flood while the daemon is stalled.
lab_client --host "$SERVER4" --port "$PORT" --mode normal --count 5 --bytes 100 ||
  fail "legitimate connections before the flood"
stalled_flood syn
syns=$(at_server syn)
sent=$(lab_flood_sent "$LAB_DIR/trafgen.syn.log")
dropped=$(metric synguard_overload_syns_dropped_total)
kd2=$(metric 'synguard_queue_kernel_drops_total{queue="2"}')
kd3=$(metric 'synguard_queue_kernel_drops_total{queue="3"}')
un=$(metric synguard_queue_unprotected_packets_total)
hits=$(metric synguard_queue_rule_packets_total)
cookies=$(metric 'synguard_cookies_sent_total{service="web"}')
echo "drop_syn: flood ${sent:-?} SYNs while stalled; at the server $syns; kernel drops $dropped (queue 2: $kd2, queue 3: $kd3); cookies sent $cookies; unprotected $un of $hits rule hits"
[ "$syns" -eq 0 ] || fail "$syns spoofed SYNs reached the server with overload: drop_syn"
[ "$dropped" -gt 0 ] || fail "the SYN queues did not overflow (no kernel drop counted)"
[ "$dropped" -eq $((kd2 + kd3)) ] || fail "overload drops $dropped != queue drops $kd2 + $kd3"
[ "$un" -eq 0 ] || fail "$un packets counted unprotected, none passed"
# Every SYN the flood sent was answered with a cookie or dropped by the kernel (a few more:
# the legitimate clients' SYNs).
[ $((cookies + dropped)) -ge "$sent" ] || fail "SYNs unaccounted: sent $sent, cookies $cookies + dropped $dropped"
lab_client --host "$SERVER4" --port "$PORT" --mode normal --count 20 --bytes 100 ||
  fail "legitimate clients after the stall"

# 3. Everything else still fails open: an ACK flood while stalled reaches the server.
stalled_flood ack
acks=$(at_server ack)
un3=$(metric synguard_queue_unprotected_packets_total)
dropped3=$(metric synguard_overload_syns_dropped_total)
echo "drop_syn, ACK flood: ${acks} spoofed ACKs at the server (fail-open); unprotected $un3; SYN-queue drops $dropped3"
[ "$acks" -gt 0 ] || fail "no ACK failed open: the regular queues must still fail open"
[ "$un3" -ge "$acks" ] || fail "ACKs at the server ($acks) not counted as unprotected ($un3)"
[ "$dropped3" -eq "$dropped" ] || fail "ACKs were dropped in the SYN queues"
[ "$(at_server syn)" -eq 0 ] || fail "spoofed SYNs reached the server"

# 4. overload: pass, by a reload (the rules are re-installed): SYNs fail open as before.
write_cfg pass
kill -HUP "$SG_PID"
for _ in $(seq 1 50); do
  [ "$(metric 'synguard_config_reloads_total{result="success"}')" -ge 1 ] && break
  sleep 0.1
done
grep -q "rules re-installed" "$LAB_DIR/sg.log" || fail "the reload did not re-install the rules"
rules=$(lab_ns "$NS_G" nft list ruleset)
! syn_rule "$PORT" "$rules" || fail "overload: pass still sends the SYNs to the SYN queue: $rules"
syn_rule "$PORT2" "$rules" || fail "the other service lost its SYN-queue rule: $rules"
stalled_flood syn
syns4=$(at_server syn)
un4=$(metric synguard_queue_unprotected_packets_total)
dropped4=$(metric synguard_overload_syns_dropped_total)
sent4=$(lab_flood_sent "$LAB_DIR/trafgen.syn.log")
echo "pass: flood ${sent4:-?} SYNs while stalled; at the server $syns4 (fail-open); unprotected $un3 -> $un4; SYN-queue drops $dropped4"
[ "$syns4" -gt 0 ] || fail "overload: pass let no SYN through"
[ $((un4 - un3)) -ge "$syns4" ] || fail "SYNs at the server ($syns4) not counted as unprotected ($un3 -> $un4)"
[ "$dropped4" -eq "$dropped" ] || fail "overload: pass dropped SYNs in the kernel"
lab_client --host "$SERVER4" --port "$PORT" --mode normal --count 10 --bytes 100 ||
  fail "legitimate clients after the pass overflow"

# 5. Back to drop_syn, then SIGKILL: no daemon bound, every packet passes (bypass).
write_cfg drop_syn
kill -HUP "$SG_PID"
sleep 1
kill -9 "$SG_PID"
wait "$SG_PID" 2>/dev/null || true
before=$(at_server syn)
lab_flood_conf v4 "$PORT" "$LAB_DIR/flood.dead.cfg" syn
lab_ns "$NS_A" trafgen --cpp -o eth0 --cpus 1 -c "$LAB_DIR/flood.dead.cfg" -n 2000 -b 4000pps \
  >"$LAB_DIR/trafgen.dead.log" 2>&1 || true
all_passed() { [ $(($(at_server syn) - before)) -ge 2000 ]; }
wait_until 10 all_passed || true
after=$(at_server syn)
echo "killed: $((after - before)) of 2000 spoofed SYNs reached the server (no daemon: bypass)"
[ $((after - before)) -ge 1900 ] || fail "with no daemon the SYNs did not pass: $((after - before)) of 2000"
lab_client --host "$SERVER4" --port "$PORT" --mode normal --count 10 --bytes 100 --timeout 3 ||
  fail "legitimate clients with the daemon killed"
