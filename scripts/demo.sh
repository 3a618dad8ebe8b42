#!/usr/bin/env bash
# The README's main command, the live demo: installs dependencies, builds synguard, builds a
# network-namespace lab (client, attacker, gateway, a server without SYN cookies and with a
# small backlog), then twice runs the same bounded spoofed SYN flood with legitimate clients
# alongside: first with the gateway only forwarding, then with synguard inline on the gateway,
# showing its half-open and cookie numbers as they move. Prints the outcome side by side and
# cleans up after itself, also when interrupted (Ctrl-C). Needs root.
#   scripts/demo.sh [--seconds N] [--rate PPS]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
secs=8
rate=150000
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) secs="$2"; shift 2 ;;
    --rate) rate="$2"; shift 2 ;;
    *) echo "usage: $0 [--seconds N] [--rate PPS]" >&2; exit 2 ;;
  esac
done
bash "$here/install-deps.sh"
bash "$here/build.sh"
synguard="$here/../${BUILD_DIR:-build}/daemon/synguard"

LAB_ID="sgdemo"
# shellcheck source=lab/netns.sh
source "$here/lab/netns.sh"
trap 'exit 130' INT TERM  # the EXIT trap (lab_down) tears everything down
PORT=8080
CLIENTS=150
echo "demo: building the lab: client 192.0.2.10, attacker 192.0.2.130 (spoofing 203.0.113.0/24),"
echo "      gateway, server 198.51.100.10:$PORT (tcp_syncookies=0, SYN backlog 16)"
lab_up
lab_server "$PORT"
lab_flood_conf v4 "$PORT" "$LAB_DIR/flood.cfg"

round() {  # round LABEL: the flood plus CLIENTS fresh connections (1 s connect timeout)
  local label="$1"
  lab_flood "$LAB_DIR/flood.cfg" "$secs" "${rate}pps" "$LAB_DIR/trafgen.$label.log"
  local tg=$LAB_FLOOD_PID
  sleep 1
  local res
  res=$(lab_client --host "$SERVER4" --port "$PORT" --mode normal --count "$CLIENTS" \
    --bytes 100 --timeout 1 --gap 0.02 --min-ok 0 || true)
  wait "$tg" || true
  echo "${res#normal: }" >"$LAB_DIR/result.$label"
}

echo
echo "demo: round 1 — ${secs} s of spoofed SYNs at ${rate}/s, $CLIENTS legitimate clients, no protection"
round without
peak=$(lab_ns "$NS_S" ss -Htn state syn-recv | wc -l)
echo "      legitimate connections: $(cat "$LAB_DIR/result.without"); server SYN-RECV right after: $peak"
sleep 3

echo
echo "demo: round 2 — the same with synguard inline on the gateway"
ip netns exec "$NS_G" "$synguard" run --queues 1 --protect "web=$SERVER4/32:$PORT" \
  --half-open-on 12 --half-open-off 6 --syn-rate-on 2000 --syn-rate-off 200 --hold 3 \
  --half-open-timeout 10 --key-file "$LAB_DIR/cookie.key" --stats-interval 1 \
  >"$LAB_DIR/synguard.log" 2>&1 &
sg=$!
LAB_PIDS+=("$sg")
for _ in $(seq 1 100); do
  grep -q protecting "$LAB_DIR/synguard.log" && break
  sleep 0.05
done
# Show synguard's numbers as they move.
tail -n +1 -f "$LAB_DIR/synguard.log" 2>/dev/null | sed -u -nE \
  -e 's/^<[0-9]>synguard: stats: packets ([0-9]+), half-open ([0-9]+),.*cookies sent ([0-9]+) validated ([0-9]+).*proxied [0-9]+ \(joined ([0-9]+)\).*modes (.*)/      synguard: mode \6, half-open \2, cookies sent \3, validated \4, proxied \5/p' \
  -e 's/^<[0-9]>synguard: (queue .*)/      synguard: \1/p' &
watcher=$!
LAB_PIDS+=("$watcher")
round with
sleep 1.5
kill "$watcher" 2>/dev/null || true
echo "demo: \`synguard status\` on the gateway (read from its Prometheus endpoint, 127.0.0.1:9815):"
ip netns exec "$NS_G" "$synguard" status --once | sed 's/^/      /' || true
kill -TERM "$sg"
wait "$sg" || true

echo
echo "demo: outcome (legitimate connections that succeeded during the flood)"
printf "      %-22s %s\n" "without synguard" "$(cat "$LAB_DIR/result.without")"
printf "      %-22s %s\n" "with synguard" "$(cat "$LAB_DIR/result.with")"
grep -E "stopped:" "$LAB_DIR/synguard.log" | sed 's/^<[0-9]>synguard: stopped: /      synguard totals: /'
echo "demo: done; the lab is being removed"
