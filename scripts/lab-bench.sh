#!/usr/bin/env bash
# Side-by-side lab benchmark (issue #4): the same namespace lab and the same unthrottled
# trafgen SYN flood against (1) no protection, (2) the kernel's SYNPROXY (iptables recipe,
# without timestamps), (3) synguard. For each: SYN-ACKs answered per second (counted where
# they arrive, in the attacker's namespace), legitimate success and connect latency p50/p99
# (200 fresh connections, 1 s timeout, during the flood), and CPU-seconds per million flood
# SYNs (all CPU time but trafgen's). Then the throughput of an established 200 MB transfer
# through the gateway with and without synguard. Prints a CSV and a table.
# Usage: scripts/lab-bench.sh [SYNGUARD_BINARY]   (as root)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
synguard="${1:-$here/../build/daemon/synguard}"
LAB_ID="sgb$$"
# shellcheck source=lab/netns.sh
source "$here/lab/netns.sh"
PORT=8080
DURATION=${BENCH_DURATION:-8}
QUEUES=${BENCH_QUEUES:-1}
lab_up
lab_server "$PORT"
out="$LAB_DIR/bench.csv"
echo "setup,flood_pps,synacks_per_s,legit_ok,legit_total,p50_ms,p99_ms,cpu_s_per_M_syn" >"$out"

# Count SYN-ACKs arriving at the attacker (answers to the spoofed SYNs).
lab_ns "$NS_A" nft -f - <<'NFT'
table inet bench {
  chain in {
    type filter hook prerouting priority 0; policy accept;
    tcp flags & (syn | ack) == (syn | ack) counter
  }
}
NFT
synacks() { lab_ns "$NS_A" nft list table inet bench | grep -oE "packets [0-9]+" | cut -d' ' -f2; }
busy_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }  # user nice system irq softirq

lab_flood_conf v4 "$PORT" "$LAB_DIR/flood.cfg"

run_case() {  # run_case NAME
  local name="$1"
  local before_sa before_busy
  before_sa=$(synacks)
  before_busy=$(busy_ticks)
  lab_flood "$LAB_DIR/flood.cfg" "$DURATION" max "$LAB_DIR/trafgen.$name.log"
  local tg=$LAB_FLOOD_PID
  sleep 1
  local res
  res=$(lab_client --host "$SERVER4" --port "$PORT" --mode normal --count 200 --bytes 100 \
    --timeout 1 --min-ok 0 --latency-out "$LAB_DIR/lat.$name" || true)
  wait "$tg" || true
  local after_sa after_busy
  after_sa=$(synacks)
  after_busy=$(busy_ticks)
  local sent tg_cpu
  sent=$(grep -oE "[0-9]+ packets outgoing" "$LAB_DIR/trafgen.$name.log" | head -1 | cut -d' ' -f1)
  tg_cpu=$(grep -oE "[0-9]+ sec, [0-9]+ usec on CPU" "$LAB_DIR/trafgen.$name.log" |
    awk '{s += $1 + $3 / 1e6} END {print s + 0}')
  local ok=${res#normal: }
  ok=${ok%%/*}
  python3 - "$name" "$sent" "$tg_cpu" "$before_sa" "$after_sa" "$before_busy" "$after_busy" \
    "$ok" "$LAB_DIR/lat.$name" "$DURATION" >>"$out" <<'PY'
import os, sys
name, sent, tg_cpu, sa0, sa1, b0, b1, ok, lat, dur = sys.argv[1:]
sent = int(sent or 0); dur = float(dur)
hz = os.sysconf("SC_CLK_TCK")
busy = (int(b1) - int(b0)) / hz - float(tg_cpu)
lats = sorted(float(x) * 1000 for x in open(lat)) if os.path.exists(lat) else []
pct = lambda p: lats[min(len(lats) - 1, int(p * len(lats)))] if lats else float("nan")
cpu_per_m = busy / (sent / 1e6) if sent else float("nan")
print("%s,%d,%d,%s,200,%.2f,%.2f,%.2f" % (name, sent / dur, (int(sa1) - int(sa0)) / dur, ok,
                                          pct(0.5), pct(0.99), cpu_per_m))
PY
  sleep 4  # the server's SYN queue drains between cases
}

# 1. No protection.
run_case none

# 2. The kernel's SYNPROXY (the documented recipe for a forwarding gateway, no timestamps).
lab_ns "$NS_G" sysctl -qw net.netfilter.nf_conntrack_tcp_loose=0
lab_ns "$NS_G" iptables-nft -t raw -A PREROUTING -d "$SERVER4" -p tcp --dport "$PORT" --syn -j CT --notrack
lab_ns "$NS_G" iptables-nft -A FORWARD -d "$SERVER4" -p tcp --dport "$PORT" \
  -m conntrack --ctstate INVALID,UNTRACKED -j SYNPROXY --sack-perm --wscale 7 --mss 1460
lab_ns "$NS_G" iptables-nft -A FORWARD -m conntrack --ctstate INVALID -j DROP
run_case synproxy
lab_ns "$NS_G" iptables-nft -t raw -F
lab_ns "$NS_G" iptables-nft -F
lab_ns "$NS_G" sysctl -qw net.netfilter.nf_conntrack_tcp_loose=1

# 3. synguard, always answering with cookies (the flood would switch it within a second).
ip netns exec "$NS_G" "$synguard" run --queues "$QUEUES" --protect "web=$SERVER4/32:$PORT" \
  --mode always --key-file "$LAB_DIR/key" >"$LAB_DIR/sg.log" 2>&1 &
sg=$!
LAB_PIDS+=("$sg")
sleep 1.5
run_case "synguard-${QUEUES}q"

# Established throughput: 200 MB download, the median of 3, without synguard, with synguard
# (established connections bypass the queue, the default) and with --no-bypass (every segment
# through userspace).
kill -TERM "$sg"
wait "$sg" || true
tput_once() {
  local t0 t1
  t0=$(date +%s.%N)
  lab_client --host "$SERVER4" --port "$PORT" --mode download --bytes $((200 * 1024 * 1024)) \
    --timeout 60 >/dev/null
  t1=$(date +%s.%N)
  python3 -c "print(round(200 * 8 * 1.048576 / ($t1 - $t0), 0))"
}
tput() { for _ in 1 2 3; do tput_once; done | sort -n | sed -n 2p; }
direct=$(tput)
with_sg() {  # with_sg [options]: the throughput with synguard running
  ip netns exec "$NS_G" "$synguard" run --queues "$QUEUES" --protect "web=$SERVER4/32:$PORT" \
    --mode adaptive --key-file "$LAB_DIR/key" --metrics off "$@" >>"$LAB_DIR/sg.log" 2>&1 &
  sg=$!
  sleep 1.5
  tput
  kill -TERM "$sg"
  wait "$sg" || true
}
through=$(with_sg)
through_nobypass=$(with_sg --no-bypass)
echo "throughput_direct_mbit,$direct" >>"$out"
echo "throughput_synguard_mbit,$through" >>"$out"
echo "throughput_synguard_no_bypass_mbit,$through_nobypass" >>"$out"
cat "$out"
# Plots (docs/bench/*.svg, linked from docs/BENCHMARKS.md) and the CSV next to them.
mkdir -p "$here/../docs/bench"
cp "$out" "$here/../docs/bench/lab-bench.csv"
/usr/bin/python3 "$here/plot-bench.py" "$out" "$here/../docs/bench" || echo "lab-bench: no plots (python3-matplotlib missing)"
