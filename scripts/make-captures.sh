#!/usr/bin/env bash
# Regenerates the small captures in tests/data/ by recording real traffic on the gateway's
# server-facing interface of a namespace lab (see tests/data/README.md for what each holds).
# Needs root. Usage: scripts/make-captures.sh [OUT_DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../tests/data}"
mkdir -p "$out"
# shellcheck source=lab/netns.sh
source "$here/lab/netns.sh"
lab_up
lab_server 80
lab_server 8080 --ipv6

record() {  # record NAME command...   (IFACE=gc records on the client side instead)
  local name="$1"
  shift
  lab_capture_start "$NS_G" "${IFACE:-gs}" "$LAB_DIR/$name.pcap"
  "$@"
  lab_capture_stop
  cp "$LAB_DIR/$name.pcap" "$out/$name.pcap"
  echo "make-captures: $name.pcap ($(stat -c %s "$out/$name.pcap") bytes)"
}

# SYNs to an address on the server's network that nobody answers (recorded on the client side:
# the gateway never resolves the address, so nothing reaches the server side).
no_answer() {
  lab_client --host 198.51.100.77 --port 80 --mode normal --count 1 --timeout 4 || true
}
IFACE=gc record syn_no_answer no_answer

record handshake_and_close lab_client --host "$SERVER4" --port 80 --mode normal --count 5 --bytes 3000
record rst_refused lab_client --host "$SERVER4" --port 81 --mode refused --count 3
record rst_abort lab_client --host "$SERVER4" --port 80 --mode abort --count 2
record server_abort lab_client --host "$SERVER4" --port 80 --mode srvabort --count 2
record half_close lab_client --host "$SERVER4" --port 80 --mode half --count 2 --bytes 20000
record simultaneous_close lab_client --host "$SERVER4" --port 80 --mode simul --count 5
record ipv6_connections lab_client --host "$SERVER6" --port 8080 --mode normal --count 3 --bytes 2000

flood() {
  lab_client --host "$SERVER4" --port 80 --mode normal --count 2 --bytes 500
  lab_ns "$NS_A" python3 "$here/lab/synflood.py" --dst "$SERVER4" --dport 80 --count 2000 \
    --rate 20000 --duration 10
}
record syn_flood flood

