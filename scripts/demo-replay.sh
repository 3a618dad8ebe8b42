#!/usr/bin/env bash
# The offline demo: installs dependencies, builds synguard, records a short spoofed
# SYN flood plus normal connections in a network-namespace lab, and replays the capture through
# synguard's engine, printing the summary. Needs root. Everything it starts stops by itself.
#   scripts/demo-replay.sh [--syns N] [--keep FILE]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
syns=20000
keep=""
while [ $# -gt 0 ]; do
  case "$1" in
    --syns) syns="$2"; shift 2 ;;
    --keep) keep="$2"; shift 2 ;;
    *) echo "usage: $0 [--syns N] [--keep FILE]" >&2; exit 2 ;;
  esac
done
bash "$here/install-deps.sh"
bash "$here/build.sh"
synguard="$here/../${BUILD_DIR:-build}/daemon/synguard"

LAB_ID="sgdemo"
# shellcheck source=lab/netns.sh
source "$here/lab/netns.sh"
echo "demo: building the lab (client, attacker, gateway, server without SYN cookies)"
lab_up
lab_server 80
lab_capture_start "$NS_G" gs "$LAB_DIR/demo.pcap"
echo "demo: 10 normal connections, then $syns spoofed SYNs from 203.0.113.0/24 (at most 15 s),"
echo "      then 5 more connections"
lab_client --host "$SERVER4" --port 80 --mode normal --count 10 --bytes 10000
lab_ns "$NS_A" python3 "$here/lab/synflood.py" --dst "$SERVER4" --dport 80 --count "$syns" \
  --rate 50000 --duration 15
lab_client --host "$SERVER4" --port 80 --mode normal --count 5 --timeout 1 || true
lab_capture_stop
[ -n "$keep" ] && cp "$LAB_DIR/demo.pcap" "$keep"
echo
echo "demo: synguard replay of the gateway's capture"
echo
"$synguard" replay --no-progress --conn-log "$LAB_DIR/conn.log" "$LAB_DIR/demo.pcap"
echo
echo "demo: a few lines of the connection log (--conn-log):"
grep -v '^#separator\|^#types' "$LAB_DIR/conn.log" | head -4 | cut -f1-12
