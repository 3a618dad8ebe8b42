#!/usr/bin/env bash
# Real connections of every kind between namespaces, captured on the gateway and replayed:
# each must get the right outcome and final state, with no invalid segment.
#
# The simultaneous closes are made certain, not left to timing: both endpoints shut down at
# the same wall-clock instant, but on a loaded machine one of them can run late, receive the
# other's FIN first and close passively (a normal close: one TIME-WAIT). So while they run,
# each endpoint's namespace holds back (drops) an arriving FIN of a connection until it has
# sent its own FIN on that connection; the dropped FIN is retransmitted (RTO, >= 200 ms) and
# arrives after. Each side thus sends its FIN before it receives the other's: both close
# actively and both end in TIME-WAIT, whatever the scheduling. The drops are at the endpoints,
# after the capture point on the gateway, so the capture holds every FIN, as a gateway would.
set -euo pipefail
synguard="${1:?usage: live_connections.sh SYNGUARD_BINARY}"
here="$(cd "$(dirname "$0")" && pwd)"
LAB_ID="sgc$$"
# shellcheck source=../../scripts/lab/netns.sh
source "$here/../../scripts/lab/netns.sh"

# fin_hold_on / fin_hold_off: in the client's and the server's namespaces, an arriving FIN to
# or from port 80 is dropped until this side has sent its own FIN on the same connection.
fin_hold_on() {
  local ns
  for ns in "$NS_C" "$NS_S"; do
    lab_ns "$ns" nft -f - <<'NFT'
table ip finhold {
  set sent {
    type ipv4_addr . inet_service . ipv4_addr . inet_service
    size 1024
    timeout 120s
    flags dynamic,timeout
  }
  chain out {
    type filter hook output priority 0; policy accept;
    tcp flags & fin == fin tcp sport 80 add @sent { ip saddr . tcp sport . ip daddr . tcp dport }
    tcp flags & fin == fin tcp dport 80 add @sent { ip saddr . tcp sport . ip daddr . tcp dport }
  }
  chain in {
    type filter hook input priority 0; policy accept;
    tcp flags & fin == fin tcp sport 80 ip daddr . tcp dport . ip saddr . tcp sport != @sent counter drop
    tcp flags & fin == fin tcp dport 80 ip daddr . tcp dport . ip saddr . tcp sport != @sent counter drop
  }
}
NFT
  done
}
fin_held() {  # FINs dropped by the hold, both namespaces
  local ns n=0 c
  for ns in "$NS_C" "$NS_S"; do
    c=$(lab_ns "$ns" nft list chain ip finhold in | grep -oE "packets [0-9]+" | awk '{ s += $2 } END { print s + 0 }')
    n=$((n + c))
  done
  echo "$n"
}
fin_hold_off() {
  lab_ns "$NS_C" nft delete table ip finhold
  lab_ns "$NS_S" nft delete table ip finhold
}

lab_up
lab_server 80
lab_server 8080 --ipv6
lab_capture_start "$NS_G" gs "$LAB_DIR/live.pcap"
lab_client --host "$SERVER4" --port 80 --mode normal --count 20 --bytes 20000
lab_client --host "$SERVER4" --port 80 --mode half --count 3 --bytes 50000
fin_hold_on
lab_client --host "$SERVER4" --port 80 --mode simul --count 3
# Both sides of each simultaneous close in TIME-WAIT: the server's side shows it (the server
# closes passively in every other mode here, so these are its only TIME-WAIT sockets). The
# client can be done before the server's side of the last close: a FIN it held back is still
# to be retransmitted (RTO, backed off at most a few times): waited for, up to 20 s.
for _ in $(seq 1 200); do
  tw=$(lab_ns "$NS_S" ss -Htn state time-wait '( sport = :80 )' | wc -l)
  [ "$tw" -ge 3 ] && break
  sleep 0.1
done
echo "simultaneous closes: server sockets in TIME-WAIT $tw; FINs held back until crossed: $(fin_held)"
[ "$tw" -eq 3 ] || { echo "FAIL the server has $tw sockets in TIME-WAIT after 3 simultaneous closes"; exit 1; }
fin_hold_off
lab_client --host "$SERVER4" --port 80 --mode abort --count 3
lab_client --host "$SERVER4" --port 80 --mode srvabort --count 2
lab_client --host "$SERVER4" --port 81 --mode refused --count 3
lab_client --host "$SERVER6" --port 8080 --mode normal --count 5 --bytes 5000
lab_capture_stop
"$synguard" replay --json --conn-log "$LAB_DIR/conn.log" "$LAB_DIR/live.pcap" >"$LAB_DIR/summary.json"
python3 "$here/check.py" connections "$LAB_DIR/summary.json" "$LAB_DIR/conn.log" \
  normal=20 half=3 simul=3 abort=3 srvabort=2 refused=3 ipv6=5
