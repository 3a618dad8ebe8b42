#!/usr/bin/env bash
# Side-by-side lab benchmark (docs/BENCHMARKS.md), all in one run: the same namespace lab and the
# same unthrottled trafgen floods against (1) no protection, (2) the kernel's SYNPROXY (the
# iptables recipe, without timestamps), (3) synguard with one queue, (4) synguard with two,
# (5) synguard with its XDP fast path in native mode and (6) in generic mode (docs/XDP.md).
# Floods: SYN (an MSS option), SYN with Linux's 20 option bytes (syn20), ACK with random
# cookies, RST, and unsolicited SYN-ACKs (what a reflection attack delivers), all from spoofed
# sources to the server's port. Before them, a baseline round per flood drops it at the
# gateway's ingress (an XDP_DROP program): what the generator and the veth cost per packet.
# For each setup and flood:
#   flood_pps          what the generator sent per second
#   synacks_per_s      SYN-ACKs arriving back at the attacker (answers to spoofed SYNs)
#   to_server_per_s    flood packets that reached the server (counted in its namespace)
#   to_server          the same, the whole count (a SYN flood against synguard must leave 0: what
#                      it cannot answer, overload drop_syn drops in the kernel, never passes)
#   rsts_per_s         RSTs arriving back at the attacker (the server's or the proxy's answers)
#   legit_ok/total     fresh legitimate connections (1 s connect timeout) during the flood
#   p50_ms, p99_ms     their connect latency
#   cpu_s_per_M        busy CPU-seconds of the machine, minus trafgen's own, per million packets
#   to_server          (see above)
#   gw_cpu_s           the gateway's CPU-seconds: the machine's busy time less the baseline
#                      round's busy time per packet times the packets sent
#   synacks_per_cpu_s  SYN-ACKs that reached the attacker per gateway CPU-second
# Then the throughput of an established 200 MB transfer with and without synguard. Writes the
# CSV and SVG plots to docs/bench/ (scripts/plot-bench.py) and prints the CSV.
# Usage: scripts/lab-bench.sh [SYNGUARD_BINARY]   (as root)
#   BENCH_DURATION=8 (seconds per flood)  BENCH_FLOODS="syn ack rst synack"  BENCH_OUT=docs/bench
#   BENCH_SETUPS="none synproxy synguard-1q synguard-2q synguard-xdp synguard-xdp-generic"
#   BENCH_THROUGHPUT=1 (0: skip it)
# A partial run (fewer floods or setups, or no throughput) prints its CSV and leaves docs/bench
# alone unless BENCH_OUT is given.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
synguard="${1:-$here/../build/daemon/synguard}"
LAB_ID="sgb$$"
# shellcheck source=lab/netns.sh
source "$here/lab/netns.sh"
PORT=8080
DURATION=${BENCH_DURATION:-8}
ALL_FLOODS="syn syn20 ack rst synack"
ALL_SETUPS="none synproxy synguard-1q synguard-2q synguard-xdp synguard-xdp-generic"
FLOODS=${BENCH_FLOODS:-$ALL_FLOODS}
SETUPS=${BENCH_SETUPS:-$ALL_SETUPS}
THROUGHPUT=${BENCH_THROUGHPUT:-1}
OUT_DIR=${BENCH_OUT:-$here/../docs/bench}
partial=0
if [ "$FLOODS" != "$ALL_FLOODS" ] || [ "$SETUPS" != "$ALL_SETUPS" ] || [ "$THROUGHPUT" != 1 ]; then
  partial=1
fi
wants() { [[ " $SETUPS " == *" $1 "* ]]; }
LEGIT=200
lab_up
lab_server "$PORT"
out="$LAB_DIR/bench.csv"
echo "setup,flood,flood_pps,synacks_per_s,to_server_per_s,rsts_per_s,legit_ok,legit_total,p50_ms,p99_ms,cpu_s_per_M,to_server,gw_cpu_s,synacks_per_cpu_s" >"$out"

# What comes back to the attacker is counted, and dropped, by an XDP program on its end of
# the veth (scripts/lab/count_replies.bpf.c): the attacker's own stack receiving the replies
# is not the gateway's cost. What of the flood reaches the server: an nft counter there.
clang -O2 -g -target bpf -I/usr/include/"$(gcc -print-multiarch)" \
  -c "$here/lab/count_replies.bpf.c" -o "$LAB_DIR/count_replies.bpf.o" ||
  lab_die "cannot build scripts/lab/count_replies.bpf.c (clang, libbpf-dev)"
# The client gets a pass-through XDP program on its veth end and the attacker the counting one,
# both without tx checksum offload, in every setup alike (lab_peer_xdp: native XDP_TX on veth
# needs an XDP program on the peer).
lab_peer_xdp "$NS_C" "$NS_A"
lab_ns "$NS_A" ip link set dev eth0 xdpdrv off
lab_ns "$NS_A" ip link set dev eth0 xdpdrv obj "$LAB_DIR/count_replies.bpf.o" sec xdp
lab_ns "$NS_S" nft -f - <<'NFT'
table inet bench {
  chain in {
    type filter hook prerouting priority 0; policy accept;
    ip saddr 203.0.113.0/24 counter
  }
}
NFT
counters() {  # prints: synacks rsts to_server
  local a s
  a=$(bpftool -j map dump name lab_replies | python3 -c '
import json, sys
tot = [0, 0]
for e in json.load(sys.stdin):
    k = e.get("key")
    k = int(k[0], 16) if isinstance(k, list) else int(k)
    for c in e.get("values", []):
        v = c.get("value")
        tot[k] += int.from_bytes(bytes(int(b, 16) for b in v), "little") if isinstance(v, list) else int(v)
print(tot[0], tot[1], end=" ")')
  s=$(lab_ns "$NS_S" nft list table inet bench | grep -oE "packets [0-9]+" | cut -d' ' -f2)
  echo "$a$s"
}
busy_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }  # user nice system irq softirq

for kind in $FLOODS; do
  lab_flood_conf v4 "$PORT" "$LAB_DIR/flood.$kind.cfg" "$kind"
done

run_case() {  # run_case SETUP FLOOD
  local name="$1" kind="$2"
  local before before_busy
  before=$(counters)
  before_busy=$(busy_ticks)
  lab_flood "$LAB_DIR/flood.$kind.cfg" "$DURATION" max "$LAB_DIR/trafgen.$name.$kind.log"
  local tg=$LAB_FLOOD_PID
  sleep 1
  local res
  res=$(lab_client --host "$SERVER4" --port "$PORT" --mode normal --count "$LEGIT" --bytes 100 \
    --timeout 1 --min-ok 0 --latency-out "$LAB_DIR/lat.$name.$kind" || true)
  wait "$tg" || true
  local after after_busy
  after=$(counters)
  after_busy=$(busy_ticks)
  local sent tg_cpu
  sent=$(lab_flood_sent "$LAB_DIR/trafgen.$name.$kind.log")
  tg_cpu=$(grep -oE "[0-9]+ sec, [0-9]+ usec on CPU" "$LAB_DIR/trafgen.$name.$kind.log" |
    awk '{s += $1 + $3 / 1e6} END {print s + 0}')
  local ok=${res#normal: }
  ok=${ok%%/*}
  python3 - "$name" "$kind" "${sent:-0}" "$tg_cpu" "$before" "$after" "$before_busy" "$after_busy" \
    "${ok:-0}" "$LEGIT" "$LAB_DIR/lat.$name.$kind" "$DURATION" "$LAB_DIR/baseline.$kind" >>"$out" <<'PY'
import os, sys
name, kind, sent, tg_cpu, c0, c1, b0, b1, ok, total, lat, dur, base = sys.argv[1:]
sent = int(sent); dur = float(dur)
d = [int(y) - int(x) for x, y in zip(c0.split(), c1.split())]
synacks, rsts, to_server = (d + [0, 0, 0])[:3]
hz = os.sysconf("SC_CLK_TCK")
busy = (int(b1) - int(b0)) / hz - float(tg_cpu)
lats = sorted(float(x) * 1000 for x in open(lat)) if os.path.exists(lat) else []
pct = lambda p: lats[min(len(lats) - 1, int(p * len(lats)))] if lats else float("nan")
cpu_per_m = busy / (sent / 1e6) if sent else float("nan")
# The machine's whole busy time per packet sent in the baseline round (trafgen included):
# what the generator and the veth cost, with the gateway dropping the flood at once.
total_busy = (int(b1) - int(b0)) / hz
if name == "baseline":
    if sent:
        open(base, "w").write("%.12f\n" % (total_busy / sent))
    gw, per_cpu = 0.0, float("nan")
else:
    per_pkt = float(open(base).read()) if os.path.exists(base) else 0.0
    gw = max(total_busy - per_pkt * sent, 1e-9)
    per_cpu = synacks / gw
print("%s,%s,%d,%d,%d,%d,%s,%s,%.2f,%.2f,%.2f,%d,%.2f,%.0f" % (
    name, kind, sent / dur, synacks / dur, to_server / dur, rsts / dur, ok, total,
    pct(0.5), pct(0.99), cpu_per_m, to_server, gw, per_cpu))
PY
  tail -1 "$out"
  sleep 4  # the server's SYN queue drains between cases
}
run_floods() { for kind in $FLOODS; do run_case "$1" "$kind"; done; }

# 0. The baseline: the flood dropped at the gateway's ingress by an XDP program.
lab_ns "$NS_G" ip link set dev ga xdpdrv obj "$(lab_xdp_prog drop XDP_DROP)" sec xdp
run_floods baseline
lab_ns "$NS_G" ip link set dev ga xdpdrv off

# 1. No protection.
if wants none; then run_floods none; fi

# 2. The kernel's SYNPROXY (the documented recipe for a forwarding gateway, no timestamps).
if wants synproxy; then
  lab_ns "$NS_G" sysctl -qw net.netfilter.nf_conntrack_tcp_loose=0
  lab_ns "$NS_G" iptables-nft -t raw -A PREROUTING -d "$SERVER4" -p tcp --dport "$PORT" --syn -j CT --notrack
  lab_ns "$NS_G" iptables-nft -A FORWARD -d "$SERVER4" -p tcp --dport "$PORT" \
    -m conntrack --ctstate INVALID,UNTRACKED -j SYNPROXY --sack-perm --wscale 7 --mss 1460
  lab_ns "$NS_G" iptables-nft -A FORWARD -m conntrack --ctstate INVALID -j DROP
  run_floods synproxy
  lab_ns "$NS_G" iptables-nft -t raw -F
  lab_ns "$NS_G" iptables-nft -F
  lab_ns "$NS_G" sysctl -qw net.netfilter.nf_conntrack_tcp_loose=1
  lab_ns "$NS_G" conntrack -F >/dev/null 2>&1 || true
fi

# 3, 4. synguard, always answering with cookies (a flood would switch it within its first
# second anyway), with one and with two queues (one worker thread each). overload: drop_syn
# (the default): SYNs the daemon has no room for are dropped in the kernel.
for q in 1 2; do
  wants "synguard-${q}q" || continue
  ip netns exec "$NS_G" "$synguard" run --queues "$q" --protect "web=$SERVER4/32:$PORT" \
    --mode always --key-file "$LAB_DIR/key" --metrics off >"$LAB_DIR/sg.$q.log" 2>&1 &
  sg=$!
  LAB_PIDS+=("$sg")
  # Flood only once the rules are in (a start takes seconds on a busy machine; before, the
  # flood would pass unprotected and count against synguard).
  for _ in $(seq 1 600); do
    grep -q protecting "$LAB_DIR/sg.$q.log" && break
    sleep 0.1
  done
  grep -q protecting "$LAB_DIR/sg.$q.log" || lab_die "synguard did not start: $(cat "$LAB_DIR/sg.$q.log")"
  sleep 0.5
  run_floods "synguard-${q}q"
  kill -TERM "$sg"
  wait "$sg" || true
done

# 5, 6. synguard with the XDP fast path on the client-facing veths (native, then generic): the
# flood's SYNs are answered in XDP, before the kernel builds a packet.
for xm in native generic; do
  name=synguard-xdp
  [ "$xm" = generic ] && name=synguard-xdp-generic
  wants "$name" || continue
  cat >"$LAB_DIR/xdp.$xm.yaml" <<YAML
queues: {count: 1}
services:
  - {name: web, addresses: [$SERVER4/32], ports: [$PORT], mode: always}
cookies: {key_file: $LAB_DIR/key}
metrics: {enabled: false}
xdp: {interfaces: [ga, gc], mode: $xm}
YAML
  ip netns exec "$NS_G" "$synguard" run --config "$LAB_DIR/xdp.$xm.yaml" \
    >"$LAB_DIR/sg.$name.log" 2>&1 &
  sg=$!
  LAB_PIDS+=("$sg")
  for _ in $(seq 1 600); do
    grep -q protecting "$LAB_DIR/sg.$name.log" && break
    sleep 0.1
  done
  grep -q protecting "$LAB_DIR/sg.$name.log" || lab_die "synguard did not start: $(cat "$LAB_DIR/sg.$name.log")"
  sleep 0.5
  # The program's own cost per frame, as the kernel measures it (run_time_ns / run_cnt over the
  # floods; kernel.bpf_stats_enabled is on only for this round, it costs a little itself).
  stats_was=$(sysctl -n kernel.bpf_stats_enabled)
  sysctl -qw kernel.bpf_stats_enabled=1
  run_floods "$name"
  bpftool prog show name synguard_xdp 2>/dev/null | grep -oE "run_time_ns [0-9]+ run_cnt [0-9]+" |
    awk -v n="$name" '{t += $2; c += $4} END {if (c) printf "%s_prog_ns_per_frame,%.1f\n", n, t / c}' >>"$out"
  sysctl -qw kernel.bpf_stats_enabled="$stats_was"
  kill -TERM "$sg"
  wait "$sg" || true
done

# Established throughput: 200 MB download, the median of 3, without synguard, with synguard
# (established connections bypass the queue, the default) and with --no-bypass (every segment
# through userspace).
tput_once() {
  local t0 t1
  t0=$(date +%s.%N)
  lab_client --host "$SERVER4" --port "$PORT" --mode download --bytes $((200 * 1024 * 1024)) \
    --timeout 60 >/dev/null
  t1=$(date +%s.%N)
  python3 -c "print(round(200 * 8 * 1.048576 / ($t1 - $t0), 0))"
}
tput() { for _ in 1 2 3; do tput_once; done | sort -n | sed -n 2p; }
if [ "$THROUGHPUT" = 1 ]; then
  direct=$(tput)
  with_sg() {  # with_sg [options]: the throughput with synguard running
    local n
    n=$(grep -c protecting "$LAB_DIR/sg.tput.log" 2>/dev/null || true)
    ip netns exec "$NS_G" "$synguard" run --queues 2 --protect "web=$SERVER4/32:$PORT" \
      --mode adaptive --key-file "$LAB_DIR/key" --metrics off "$@" >>"$LAB_DIR/sg.tput.log" 2>&1 &
    sg=$!
    for _ in $(seq 1 600); do
      [ "$(grep -c protecting "$LAB_DIR/sg.tput.log" || true)" -gt "${n:-0}" ] && break
      sleep 0.1
    done
    tput
    kill -TERM "$sg"
    wait "$sg" || true
  }
  through=$(with_sg)
  through_nobypass=$(with_sg --no-bypass)
  echo "throughput_direct_mbit,$direct" >>"$out"
  echo "throughput_synguard_mbit,$through" >>"$out"
  echo "throughput_synguard_no_bypass_mbit,$through_nobypass" >>"$out"
fi
cat "$out"
if [ "$partial" = 1 ] && [ -z "${BENCH_OUT:-}" ]; then
  echo "lab-bench: a partial run; docs/bench left as it is (set BENCH_OUT to write somewhere)"
  exit 0
fi
# Plots (SVG, linked from docs/BENCHMARKS.md) and the CSV next to them.
mkdir -p "$OUT_DIR"
cp "$out" "$OUT_DIR/lab-bench.csv"
/usr/bin/python3 "$here/plot-bench.py" "$out" "$OUT_DIR" || echo "lab-bench: no plots (python3-matplotlib missing)"
