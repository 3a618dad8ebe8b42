# shellcheck shell=bash
# A small lab of network namespaces: client, attacker, gateway (where synguard sits), server.
# Source this file, then call lab_up; lab_down runs on EXIT. All addresses are documentation
# ranges that exist only inside these namespaces; nothing leaves them.
#
#   client   192.0.2.10/25    2001:db8:c::10/64   --- gw 192.0.2.1     2001:db8:c::1
#   attacker 192.0.2.130/25   2001:db8:a::10/64   --- gw 192.0.2.129   2001:db8:a::1
#   server   198.51.100.10/24 2001:db8:5::10/64   --- gw 198.51.100.1  2001:db8:5::1
#   spoofed flood sources: 203.0.113.0/24 (routed back towards the attacker, where they die)

LAB_ID="${LAB_ID:-sg$$}"
LAB_ID="${LAB_ID:0:8}"
NS_C="${LAB_ID}-c"
NS_A="${LAB_ID}-a"
NS_G="${LAB_ID}-g"
NS_S="${LAB_ID}-s"
CLIENT4=192.0.2.10
ATTACKER4=192.0.2.130
SERVER4=198.51.100.10
CLIENT6=2001:db8:c::10
SERVER6=2001:db8:5::10
SPOOF_NET=203.0.113.0/24
LAB_DIR="${LAB_DIR:-$(mktemp -d /tmp/synguard-lab.XXXXXX)}"
LAB_PIDS=()

lab_die() {
  echo "lab: $*" >&2
  exit 1
}

lab_require() {
  [ "$(id -u)" -eq 0 ] || lab_die "must run as root (network namespaces)"
  ip netns list >/dev/null 2>&1 || lab_die "ip netns is not usable here"
  for t in ip tcpdump python3; do
    command -v "$t" >/dev/null || lab_die "$t is missing (run scripts/install-deps.sh)"
  done
}

lab_ns() {  # lab_ns NS cmd...
  local ns="$1"
  shift
  ip netns exec "$ns" "$@"
}

lab_down() {
  local pid ns
  for pid in "${LAB_PIDS[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  for ns in "$NS_C" "$NS_A" "$NS_G" "$NS_S"; do
    if ip netns list | grep -w "$ns" >/dev/null; then
      for pid in $(ip netns pids "$ns" 2>/dev/null); do
        kill "$pid" 2>/dev/null || true
      done
      ip netns del "$ns" 2>/dev/null || true
    fi
  done
}

lab_link() {  # lab_link NS_A IF_A NS_B IF_B
  ip link add "$2" netns "$1" type veth peer name "$4" netns "$3"
  lab_ns "$1" ip link set "$2" up
  lab_ns "$3" ip link set "$4" up
}

lab_up() {
  lab_require
  lab_down  # stale namespaces of a crashed run with the same id
  trap 'lab_down' EXIT
  local ns
  for ns in "$NS_C" "$NS_A" "$NS_G" "$NS_S"; do
    ip netns add "$ns"
    lab_ns "$ns" ip link set lo up
    lab_ns "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
  done
  lab_link "$NS_C" eth0 "$NS_G" gc
  lab_link "$NS_A" eth0 "$NS_G" ga
  lab_link "$NS_S" eth0 "$NS_G" gs

  lab_ns "$NS_G" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
    net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.ga.rp_filter=0
  lab_ns "$NS_G" ip addr add 192.0.2.1/25 dev gc
  lab_ns "$NS_G" ip addr add 192.0.2.129/25 dev ga
  lab_ns "$NS_G" ip addr add 198.51.100.1/24 dev gs
  lab_ns "$NS_G" ip -6 addr add 2001:db8:c::1/64 dev gc nodad
  lab_ns "$NS_G" ip -6 addr add 2001:db8:a::1/64 dev ga nodad
  lab_ns "$NS_G" ip -6 addr add 2001:db8:5::1/64 dev gs nodad
  lab_ns "$NS_G" ip route add "$SPOOF_NET" via "$ATTACKER4"

  lab_ns "$NS_C" ip addr add "$CLIENT4/25" dev eth0
  lab_ns "$NS_C" ip -6 addr add "$CLIENT6/64" dev eth0 nodad
  lab_ns "$NS_C" ip route add default via 192.0.2.1
  lab_ns "$NS_C" ip -6 route add default via 2001:db8:c::1

  lab_ns "$NS_A" ip addr add "$ATTACKER4/25" dev eth0
  lab_ns "$NS_A" ip -6 addr add 2001:db8:a::10/64 dev eth0 nodad
  lab_ns "$NS_A" ip route add default via 192.0.2.129

  lab_ns "$NS_S" ip addr add "$SERVER4/24" dev eth0
  lab_ns "$NS_S" ip -6 addr add "$SERVER6/64" dev eth0 nodad
  lab_ns "$NS_S" ip route add default via 198.51.100.1
  lab_ns "$NS_S" ip -6 route add default via 2001:db8:5::1
  # A server that a flood hurts: no SYN cookies, a small accept backlog.
  lab_ns "$NS_S" sysctl -qw net.ipv4.tcp_syncookies=0 net.core.somaxconn=16 \
    net.ipv4.tcp_max_syn_backlog=16
  lab_ns "$NS_C" ping -c1 -W2 "$SERVER4" >/dev/null || lab_die "no IPv4 path client -> server"
  lab_ns "$NS_C" ping -c1 -W2 "$SERVER6" >/dev/null || lab_die "no IPv6 path client -> server"
}

# lab_capture_start NS IFACE FILE [filter]: tcpdump until lab_capture_stop; waits until listening.
# The capture must hold every packet whatever the machine's load: tcpdump is not in immediate
# mode (that forces TPACKET_V2, whose ring slots are sized for a 64 KiB packet: the default
# 2 MiB ring held ~32 packets, and a starved tcpdump lost the end of a test) but uses
# TPACKET_V3, where packets are packed into blocks, with a 64 MiB ring: a whole test's traffic
# fits in it even if tcpdump does not run at all until lab_capture_stop.
lab_capture_start() {
  local ns="$1" ifc="$2" file="$3" filter="${4:-tcp}"
  local log="$file.tcpdump.log"
  # Not through lab_ns: $! must be tcpdump itself (ip netns exec execs it), for its signals.
  ip netns exec "$ns" tcpdump -i "$ifc" -B 65536 -U -s 0 -w "$file" "$filter" 2>"$log" &
  LAB_TCPDUMP_PID=$!
  LAB_TCPDUMP_LOG="$log"
  LAB_PIDS+=("$LAB_TCPDUMP_PID")
  for _ in $(seq 1 100); do
    if grep -q "listening on" "$log" 2>/dev/null; then
      sleep 0.5  # the ring is attached a moment after tcpdump says it listens
      return 0
    fi
    sleep 0.05
  done
  lab_die "tcpdump did not start: $(cat "$log")"
}

# lab_capture_stop: stops the capture once tcpdump has written every packet the kernel put in
# its ring. tcpdump prints its counts on SIGUSR1; a V3 block reaches it when full or after
# tcpdump's 1 s timeout, so "captured" (+ "dropped by kernel") catches up with "received by
# filter" within about a second of the traffic's end (waited for up to 60 s). A packet the kernel dropped (ring full)
# fails the test: the capture would be incomplete.
lab_capture_stop() {
  local captured="" received="" dropped=0
  for _ in $(seq 1 120); do
    kill -USR1 "$LAB_TCPDUMP_PID" 2>/dev/null || lab_die "tcpdump is gone: $(cat "$LAB_TCPDUMP_LOG")"
    sleep 0.5
    captured=$(grep -oE "[0-9]+ packets? captured" "$LAB_TCPDUMP_LOG" | tail -1 | cut -d' ' -f1)
    received=$(grep -oE "[0-9]+ packets? received by filter" "$LAB_TCPDUMP_LOG" | tail -1 | cut -d' ' -f1)
    dropped=$(grep -oE "[0-9]+ packets? dropped by kernel" "$LAB_TCPDUMP_LOG" | tail -1 | cut -d' ' -f1)
    dropped=${dropped:-0}
    [ -n "$captured" ] && [ $((captured + dropped)) -eq "$received" ] && break
  done
  kill -TERM "$LAB_TCPDUMP_PID" 2>/dev/null || true
  wait "$LAB_TCPDUMP_PID" 2>/dev/null || true
  [ "$dropped" -eq 0 ] || lab_die "the capture lost $dropped packets (ring full)"
  if [ -z "$captured" ] || [ $((captured + dropped)) -ne "$received" ]; then
    lab_die "tcpdump did not catch up: captured ${captured:-?} of ${received:-?}"
  fi
}

# lab_server PORT [args...]: the test server in the server namespace, in the background.
lab_server() {
  local port="$1"
  shift
  lab_ns "$NS_S" python3 "$(dirname "${BASH_SOURCE[0]}")/tcp_server.py" --port "$port" "$@" \
    >"$LAB_DIR/server.$port.log" 2>&1 &
  LAB_PIDS+=("$!")
  for _ in $(seq 1 100); do
    grep -q "listening" "$LAB_DIR/server.$port.log" 2>/dev/null && return 0
    sleep 0.05
  done
  lab_die "server on port $port did not start: $(cat "$LAB_DIR/server.$port.log")"
}

lab_client() {  # lab_client args... (see tcp_client.py)
  lab_ns "$NS_C" python3 "$(dirname "${BASH_SOURCE[0]}")/tcp_client.py" "$@"
}

# lab_flood_conf v4|v6 PORT FILE [KIND]: a trafgen config for a spoofed flood from the attacker
# to the server's PORT: random sources in 203.0.113.0/24 (IPv4) or 2001:db8:66::/48 (IPv6; the
# gateway routes it back to the attacker, see lab_flood_routes), random ports and sequence
# numbers. KIND: syn (default; with an MSS option), ack (random acknowledgment numbers, i.e.
# guessed cookies), rst, synack (unsolicited SYN-ACKs, as a reflection attack delivers them),
# syn20 (a SYN with Linux's 20 option bytes: MSS, SACK-permitted, timestamps, window scale).
lab_flood_conf() {
  local fam="$1" port="$2" file="$3" kind="${4:-syn}"
  local d s flags ack hdr opts
  d=$(lab_ns "$NS_G" cat /sys/class/net/ga/address | sed 's/^/0x/; s/:/, 0x/g')
  s=$(lab_ns "$NS_A" cat /sys/class/net/eth0/address | sed 's/^/0x/; s/:/, 0x/g')
  case "$kind" in
  syn | syn20) flags=0x02 ack='const32(0)' ;;
  ack) flags=0x10 ack='drnd(4)' ;;
  rst) flags=0x04 ack='const32(0)' ;;
  synack) flags=0x12 ack='drnd(4)' ;;
  *) lab_die "lab_flood_conf: unknown flood kind $kind" ;;
  esac
  if [ "$kind" = syn ] || [ "$kind" = synack ]; then
    hdr=0x60 opts=', 0x02, 0x04, 0x05, 0xb4'
  elif [ "$kind" = syn20 ]; then
    hdr=0xa0
    opts=', 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, drnd(4), 0, 0, 0, 0, 0x01, 0x03, 0x03, 0x07'
  else
    hdr=0x50 opts=''
  fi
  local tcplen=$(((hdr >> 4) * 4))
  if [ "$fam" = v4 ]; then
    cat >"$file" <<CONF
{ $d, $s, 0x08, 0x00,
  0x45, 0x00, const16($((20 + tcplen))), drnd(2), 0x40, 0x00, 64, 6, csumip(14, 33),
  203, 0, 113, drnd(1), 198, 51, 100, 10,
  drnd(2), const16($port), drnd(4), $ack, $hdr, $flags, const16(64240), csumtcp(14, 34), const16(0)$opts }
CONF
  else
    cat >"$file" <<CONF
{ $d, $s, 0x86, 0xdd,
  0x60, 0x00, 0x00, 0x00, const16($tcplen), 6, 64,
  0x20, 0x01, 0x0d, 0xb8, 0x00, 0x66, 0x00, 0x00, drnd(8),
  0x20, 0x01, 0x0d, 0xb8, 0x00, 0x05, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0x00, 0x10,
  drnd(2), const16($port), drnd(4), $ack, $hdr, $flags, const16(64240), csumtcp6(14, 54), const16(0)${opts/0xb4/0xa0} }
CONF
  fi
}

lab_flood_routes() {  # the IPv6 spoofed range back towards the attacker, where it dies
  lab_ns "$NS_G" ip -6 route add 2001:db8:66::/48 via 2001:db8:a::10
}

# lab_flood CONF SECONDS RATE LOG [COUNT]: trafgen from the attacker, bounded in time and count
# (default 100 million packets), in the background (pid in LAB_FLOOD_PID). RATE like
# 150000pps, or "max".
lab_flood() {
  local conf="$1" secs="$2" rate="$3" log="$4" count="${5:-100000000}"
  local limit=()
  [ "$rate" = max ] || limit=(-b "$rate")
  lab_ns "$NS_A" timeout "$secs" trafgen --cpp -o eth0 --cpus 1 -c "$conf" -n "$count" \
    "${limit[@]}" >"$log" 2>&1 &
  LAB_FLOOD_PID=$!
  LAB_PIDS+=("$LAB_FLOOD_PID")
}

# lab_flood_sent LOG: the packets trafgen sent, from the summary in its LOG (nothing, and a
# failure under pipefail, if it has none).
lab_flood_sent() { grep -oE "[0-9]+ packets outgoing" "$1" | head -1 | cut -d' ' -f1; }

# lab_xdp_prog NAME ACTION: a one-line XDP program returning ACTION (XDP_PASS, XDP_DROP),
# built with clang into LAB_DIR once; prints its path.
lab_xdp_prog() {
  local name="$1" action="$2" obj="$LAB_DIR/$1.bpf.o"
  if [ ! -f "$obj" ]; then
    cat >"$LAB_DIR/$name.bpf.c" <<C
#include <linux/bpf.h>
__attribute__((section("xdp"), used)) int $name(struct xdp_md *ctx) { return $action; }
char _license[] __attribute__((section("license"), used)) = "GPL";
C
    clang -O2 -target bpf -I/usr/include/"$(gcc -print-multiarch)" -c "$LAB_DIR/$name.bpf.c" \
      -o "$obj" || lab_die "cannot build the XDP program $name (clang)"
  fi
  echo "$obj"
}

# lab_peer_xdp NS...: gives eth0 in each NS (the far end of a gateway veth) a pass-through
# native XDP program, and turns its tx checksum offload off. On veth (this kernel), the
# gateway's native XDP_TX is dropped unless the peer has an XDP program, and a TSO sender's
# frames reach native XDP only then; with checksum offload, a namespace's own TCP segments
# cross a veth with partial checksums, which XDP cannot verify (a real NIC delivers full
# ones). docs/XDP.md.
lab_peer_xdp() {
  local obj ns
  obj=$(lab_xdp_prog pass XDP_PASS)
  for ns in "$@"; do
    lab_ns "$ns" ip link set dev eth0 xdpdrv obj "$obj" sec xdp
    lab_ns "$ns" ethtool -K eth0 tx off >/dev/null
  done
}
