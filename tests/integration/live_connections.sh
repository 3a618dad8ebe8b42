#!/usr/bin/env bash
# Real connections of every kind between namespaces, captured on the gateway and replayed:
# each must get the right outcome and final state, with no invalid segment.
set -euo pipefail
synguard="${1:?usage: live_connections.sh SYNGUARD_BINARY}"
here="$(cd "$(dirname "$0")" && pwd)"
LAB_ID="sgc$$"
# shellcheck source=../../scripts/lab/netns.sh
source "$here/../../scripts/lab/netns.sh"
lab_up
lab_server 80
lab_server 8080 --ipv6
lab_capture_start "$NS_G" gs "$LAB_DIR/live.pcap"
lab_client --host "$SERVER4" --port 80 --mode normal --count 20 --bytes 20000
lab_client --host "$SERVER4" --port 80 --mode half --count 3 --bytes 50000
lab_client --host "$SERVER4" --port 80 --mode simul --count 3
lab_client --host "$SERVER4" --port 80 --mode abort --count 3
lab_client --host "$SERVER4" --port 80 --mode srvabort --count 2
lab_client --host "$SERVER4" --port 81 --mode refused --count 3
lab_client --host "$SERVER6" --port 8080 --mode normal --count 5 --bytes 5000
lab_capture_stop
"$synguard" replay --json --conn-log "$LAB_DIR/conn.log" "$LAB_DIR/live.pcap" >"$LAB_DIR/summary.json"
python3 "$here/check.py" connections "$LAB_DIR/summary.json" "$LAB_DIR/conn.log" \
  normal=20 half=3 simul=3 abort=3 srvabort=2 refused=3 ipv6=5
