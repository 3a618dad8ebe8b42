#!/usr/bin/env bash
# A bounded spoofed-source SYN flood (3000 SYNs from 203.0.113.0/24 at 30000/s, capped at 10 s)
# against a server without SYN cookies, captured on the gateway and replayed: every SYN the
# capture holds (counted independently with tcpdump) must be a half-open connection on the right
# service and source prefix.
set -euo pipefail
synguard="${1:?usage: live_syn_flood.sh SYNGUARD_BINARY}"
here="$(cd "$(dirname "$0")" && pwd)"
LAB_ID="sgf$$"
# shellcheck source=../../scripts/lab/netns.sh
source "$here/../../scripts/lab/netns.sh"
lab_up
lab_server 80
lab_capture_start "$NS_G" gs "$LAB_DIR/flood.pcap"
lab_client --host "$SERVER4" --port 80 --mode normal --count 3 --bytes 1000
lab_ns "$NS_A" python3 "$here/../../scripts/lab/synflood.py" --dst "$SERVER4" --dport 80 \
  --count 3000 --rate 30000 --duration 10
lab_capture_stop
"$synguard" replay --json --conn-log "$LAB_DIR/conn.log" "$LAB_DIR/flood.pcap" >"$LAB_DIR/summary.json"
syns=$(tcpdump -nr "$LAB_DIR/flood.pcap" 'src net 203.0.113.0/24 and tcp[tcpflags] == tcp-syn' 2>/dev/null | wc -l)
echo "captured $syns of 3000 flood SYNs"
[ "$syns" -ge 2000 ] || { echo "FAIL the capture lost too much of the flood ($syns)"; exit 1; }
python3 "$here/check.py" flood "$LAB_DIR/summary.json" "$LAB_DIR/conn.log" syns="$syns" legit=3
