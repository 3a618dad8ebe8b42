# shellcheck shell=bash
# A gateway fleet in network namespaces: a client, a router R, two gateways A and B (each can run
# synguard with the same key file), a server, and a switch namespace with the two LAN bridges.
# Source this file (it sources netns.sh), then call fleet_up; fleet_down runs on EXIT. All
# addresses are documentation/benchmarking ranges that exist only inside these namespaces.
#
#   client 192.0.2.10/24 --- R 192.0.2.1
#   front LAN (bridge brf):  R 198.18.0.1, gwA 198.18.0.2, gwB 198.18.0.3, VIP 198.18.0.254
#   server LAN (bridge brs): gwA 198.51.100.2, gwB 198.51.100.3, VIP 198.51.100.1,
#                            server 198.51.100.10
#   IPv6 (active-active only): client 2001:db8:c::10 --- R 2001:db8:c::1; front 2001:db8:f::/64
#   (R ::1, gwA ::2, gwB ::3); server LAN 2001:db8:5::/64 (gwA ::2, gwB ::3, server ::10)
#   sync link (conntrackd):  gwA 198.18.255.1/30 --- gwB 198.18.255.2/30 (interfaces "sync")
#
# Gateway interfaces: front (towards R), back (towards the server), sync. fleet_ecmp: R spreads
# flows over A and B by L4 hash (fib_multipath_hash_policy=1) and the server sends each flow's
# replies back through the gateway it came in by: its nftables stores the source MAC's gateway in
# the connection's ct mark, and output packets carry that mark into a policy route (the
# "connmark return routing" of multi-gateway hosts). fleet_backup: R and the server route via the
# VIPs, which sit on A; fleet_vip_move B moves them as keepalived does (addresses moved, then
# gratuitous ARPs).

# shellcheck source=netns.sh
source "$(dirname "${BASH_SOURCE[0]}")/netns.sh"

NS_C="${LAB_ID}-c"
NS_R="${LAB_ID}-r"
NS_GA="${LAB_ID}-ga"
NS_GB="${LAB_ID}-gb"
NS_SW="${LAB_ID}-sw"
NS_S="${LAB_ID}-s"
NS_G="$NS_GA"  # lib.sh's helpers default to gateway A
NS_A="${LAB_ID}-none"
FLEET_NS=("$NS_C" "$NS_R" "$NS_GA" "$NS_GB" "$NS_SW" "$NS_S")
CLIENT4=192.0.2.10
SERVER4=198.51.100.10
CLIENT6=2001:db8:c::10
SERVER6=2001:db8:5::10
FRONT_VIP=198.18.0.254
BACK_VIP=198.51.100.1
# fleet_ns A|B: the namespace of a gateway; fleet_front_ip / fleet_back_ip A|B: its addresses.
fleet_ns() { if [ "$1" = A ]; then echo "$NS_GA"; else echo "$NS_GB"; fi; }
fleet_front_ip() { if [ "$1" = A ]; then echo 198.18.0.2; else echo 198.18.0.3; fi; }
fleet_back_ip() { if [ "$1" = A ]; then echo 198.51.100.2; else echo 198.51.100.3; fi; }
fleet_host6() { if [ "$1" = A ]; then echo 2; else echo 3; fi; }
fleet_mac() { lab_ns "$(fleet_ns "$1")" cat "/sys/class/net/$2/address"; }  # fleet_mac A|B IF

fleet_down() {
  local pid ns
  for pid in "${LAB_PIDS[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  for pid in "${LAB_PIDS[@]:-}"; do  # synguard removes its rules on SIGTERM: up to 5 s each
    for _ in $(seq 1 50); do
      [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
  done
  for ns in "${FLEET_NS[@]}"; do
    if ip netns list | grep -w "$ns" >/dev/null; then
      for pid in $(ip netns pids "$ns" 2>/dev/null); do
        kill -9 "$pid" 2>/dev/null || true
      done
      ip netns del "$ns" 2>/dev/null || true
    fi
  done
}

# fleet_port BRIDGE NS IF: a veth from NS (named IF there) into the switch's BRIDGE.
fleet_port() {
  local peer="${3:0:4}${2: -2}"
  ip link add "$3" netns "$2" type veth peer name "$peer" netns "$NS_SW"
  lab_ns "$NS_SW" ip link set "$peer" master "$1" up
  lab_ns "$2" ip link set "$3" up
}

fleet_gateway() {  # fleet_gateway A|B: addresses, forwarding, the route back to the clients
  local g="$1" ns
  ns=$(fleet_ns "$g")
  fleet_port brf "$ns" front
  fleet_port brs "$ns" back
  lab_ns "$ns" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
    net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.all.arp_ignore=1
  lab_ns "$ns" ip addr add "$(fleet_front_ip "$g")/24" dev front
  lab_ns "$ns" ip addr add "$(fleet_back_ip "$g")/24" dev back
  lab_ns "$ns" ip route add 192.0.2.0/24 via 198.18.0.1
  lab_ns "$ns" sysctl -qw net.ipv6.conf.all.forwarding=1
  lab_ns "$ns" ip -6 addr add "2001:db8:f::$(fleet_host6 "$g")/64" dev front nodad
  lab_ns "$ns" ip -6 addr add "2001:db8:5::$(fleet_host6 "$g")/64" dev back nodad
  lab_ns "$ns" ip -6 route add 2001:db8:c::/64 via 2001:db8:f::1
}

fleet_up() {
  lab_require
  fleet_down
  trap 'fleet_down' EXIT
  local ns
  for ns in "${FLEET_NS[@]}"; do
    ip netns add "$ns"
    lab_ns "$ns" ip link set lo up
    lab_ns "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
  done
  lab_ns "$NS_SW" ip link add brf type bridge
  lab_ns "$NS_SW" ip link add brs type bridge
  lab_ns "$NS_SW" ip link set brf up
  lab_ns "$NS_SW" ip link set brs up
  lab_link "$NS_C" eth0 "$NS_R" rc
  lab_ns "$NS_C" ip addr add "$CLIENT4/24" dev eth0
  lab_ns "$NS_C" ip route add default via 192.0.2.1
  lab_ns "$NS_C" ip -6 addr add "$CLIENT6/64" dev eth0 nodad
  lab_ns "$NS_C" ip -6 route add default via 2001:db8:c::1
  fleet_port brf "$NS_R" rf
  lab_ns "$NS_R" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.fib_multipath_hash_policy=1 \
    net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
  lab_ns "$NS_R" ip addr add 192.0.2.1/24 dev rc
  lab_ns "$NS_R" ip addr add 198.18.0.1/24 dev rf
  lab_ns "$NS_R" sysctl -qw net.ipv6.conf.all.forwarding=1 net.ipv6.fib_multipath_hash_policy=1
  lab_ns "$NS_R" ip -6 addr add 2001:db8:c::1/64 dev rc nodad
  lab_ns "$NS_R" ip -6 addr add 2001:db8:f::1/64 dev rf nodad
  fleet_gateway A
  fleet_gateway B
  lab_link "$NS_GA" sync "$NS_GB" sync
  lab_ns "$NS_GA" ip addr add 198.18.255.1/30 dev sync
  lab_ns "$NS_GB" ip addr add 198.18.255.2/30 dev sync
  fleet_port brs "$NS_S" eth0
  lab_ns "$NS_S" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
  lab_ns "$NS_S" ip addr add "$SERVER4/24" dev eth0
  lab_ns "$NS_S" ip -6 addr add "$SERVER6/64" dev eth0 nodad
}

# fleet_ecmp: active-active, IPv4 and IPv6. R: one multipath route over A and B per family,
# flows spread by L4 hash. Server:
# each flow's replies go back through the gateway its first packet came from (ct mark 1: A, 2: B).
fleet_ecmp() {
  local mac_a mac_b
  lab_ns "$NS_R" ip route replace 198.51.100.0/24 nexthop via 198.18.0.2 dev rf \
    nexthop via 198.18.0.3 dev rf
  lab_ns "$NS_R" ip -6 route replace 2001:db8:5::/64 nexthop via 2001:db8:f::2 dev rf \
    nexthop via 2001:db8:f::3 dev rf
  mac_a=$(fleet_mac A back)
  mac_b=$(fleet_mac B back)
  lab_ns "$NS_S" nft -f - <<NFT
table inet returnpath {
  chain pre {
    type filter hook prerouting priority mangle; policy accept;
    ct state new ether saddr $mac_a ct mark set 1
    ct state new ether saddr $mac_b ct mark set 2
  }
  chain out {
    type route hook output priority mangle; policy accept;
    meta mark set ct mark
  }
}
NFT
  lab_ns "$NS_S" ip route add default via 198.51.100.2
  lab_ns "$NS_S" ip route add default via 198.51.100.2 table 101
  lab_ns "$NS_S" ip route add default via 198.51.100.3 table 102
  lab_ns "$NS_S" ip rule add fwmark 1 table 101
  lab_ns "$NS_S" ip rule add fwmark 2 table 102
  lab_ns "$NS_S" ip -6 route add default via 2001:db8:5::2
  lab_ns "$NS_S" ip -6 route add default via 2001:db8:5::2 table 101
  lab_ns "$NS_S" ip -6 route add default via 2001:db8:5::3 table 102
  lab_ns "$NS_S" ip -6 rule add fwmark 1 table 101
  lab_ns "$NS_S" ip -6 rule add fwmark 2 table 102
  fleet_check_path
  lab_ns "$NS_C" ping -6 -c1 -W2 "$SERVER6" >/dev/null || lab_die "no IPv6 path client -> server"
}

# fleet_backup: active-backup. Both VIPs on A; R and the server route through them.
fleet_backup() {
  lab_ns "$NS_GA" ip addr add "$FRONT_VIP/24" dev front
  lab_ns "$NS_GA" ip addr add "$BACK_VIP/24" dev back
  lab_ns "$NS_R" ip route replace 198.51.100.0/24 via "$FRONT_VIP" dev rf
  lab_ns "$NS_S" ip route add default via "$BACK_VIP"
  fleet_check_path
}

fleet_check_path() {
  lab_ns "$NS_C" ping -c1 -W2 "$SERVER4" >/dev/null || lab_die "no path client -> server"
}

# fleet_garp NS IF ADDR: one gratuitous ARP (a request for ADDR from ADDR, broadcast), as
# keepalived sends for a VIP it takes over, so the LAN's neighbour caches move to this MAC.
fleet_garp() {
  lab_ns "$1" python3 - "$2" "$3" <<'PY'
import socket, sys
ifc, ip = sys.argv[1], socket.inet_aton(sys.argv[2])
mac = bytes.fromhex(open(f"/sys/class/net/{ifc}/address").read().strip().replace(":", ""))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifc, 0))
arp = b"\x00\x01\x08\x00\x06\x04\x00\x01" + mac + ip + b"\x00" * 6 + ip
s.send(b"\xff" * 6 + mac + b"\x08\x06" + arp)
PY
}

# fleet_vip_move TO: both VIPs to gateway TO (A or B), as keepalived's VRRP would after the master
# died: addresses added on TO (deleted from the other if it still has them), gratuitous ARPs on
# both LANs; R and the server take the new MAC (their neighbour entries are stale, not failed:
# ARP updates the entry on the gratuitous request, with arp_accept off too, because it exists).
fleet_vip_move() {
  local to="$1" from ns_to ns_from
  if [ "$to" = A ]; then from=B; else from=A; fi
  ns_to=$(fleet_ns "$to")
  ns_from=$(fleet_ns "$from")
  lab_ns "$ns_from" ip addr del "$FRONT_VIP/24" dev front 2>/dev/null || true
  lab_ns "$ns_from" ip addr del "$BACK_VIP/24" dev back 2>/dev/null || true
  lab_ns "$ns_to" ip addr add "$FRONT_VIP/24" dev front
  lab_ns "$ns_to" ip addr add "$BACK_VIP/24" dev back
  fleet_garp "$ns_to" front "$FRONT_VIP"
  fleet_garp "$ns_to" back "$BACK_VIP"
}

# fleet_fail GW: the gateway dies as a machine does: its links go down (the switch ports too).
fleet_fail() {
  local ns
  ns=$(fleet_ns "$1")
  lab_ns "$ns" ip link set front down
  lab_ns "$ns" ip link set back down
  lab_ns "$ns" ip link set sync down
}

# fleet_sg_start A|B LOG [synguard run options...]: synguard on a gateway (give each its copy of
# the shared key: --key-file); waits (up to 30 s) for "protecting".
# FLEET_WRAP (an array, e.g. env LD_PRELOAD=...) goes before the binary. The pid is printed
# into $LAB_DIR/sg.GW.pid.
fleet_sg_start() {
  local g="$1" log="$2" pid
  shift 2
  ip netns exec "$(fleet_ns "$g")" "${FLEET_WRAP[@]}" "$synguard" run "$@" >>"$log" 2>&1 &
  pid=$!
  LAB_PIDS+=("$pid")
  echo "$pid" >"$LAB_DIR/sg.$g.pid"
  for _ in $(seq 1 600); do
    grep -q "protecting" "$log" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || lab_die "synguard on $g exited: $(tail -3 "$log")"
    sleep 0.05
  done
  lab_die "synguard on $g did not start"
}
FLEET_WRAP=()

# fleet_metric A|B 'name{labels}': a value from that gateway's synguard (0 if absent).
fleet_metric() {
  lab_ns "$(fleet_ns "$1")" curl -sf --max-time 5 http://127.0.0.1:9815/metrics |
    awk -v k="$2" '$1 == k { print $2; found = 1 } END { if (!found) print 0 }'
}

# fleet_conntrackd_conf A|B FILE: an FTFW conntrackd configuration over the sync link, with the
# external cache (a backup commits it on takeover: `conntrackd -c`), TCP only.
fleet_conntrackd_conf() {
  local g="$1" file="$2" me peer dir="$LAB_DIR/ctd.$1"
  if [ "$g" = A ]; then me=198.18.255.1 peer=198.18.255.2; else me=198.18.255.2 peer=198.18.255.1; fi
  mkdir -p "$dir"
  cat >"$file" <<CONF
Sync {
  Mode FTFW {
    ResendQueueSize 131072
    ACKWindowSize 300
    DisableExternalCache Off
  }
  UDP {
    IPv4_address $me
    IPv4_Destination_Address $peer
    Port 3780
    Interface sync
    SndSocketBuffer 1249280
    RcvSocketBuffer 1249280
    Checksum on
  }
}
General {
  HashSize 8192
  HashLimit 65536
  LogFile $dir/conntrackd.log
  Syslog off
  LockFile $dir/lock
  UNIX {
    Path $dir/ctl
  }
  NetlinkBufferSize 2097152
  NetlinkBufferSizeMaxGrowth 8388608
  NetlinkEventsReliable On
  Filter From Userspace {
    Protocol Accept {
      TCP
    }
    Address Ignore {
      IPv4_address 127.0.0.1
      IPv4_address 198.18.255.0/30
    }
  }
}
CONF
}

# fleet_conntrackd_start A|B: conntrackd on the gateway, in the background (pid in
# $LAB_DIR/ctd.GW.pid); waits (up to 10 s) until its control socket answers.
fleet_conntrackd_start() {
  local g="$1" ns conf="$LAB_DIR/conntrackd.$1.conf" pid
  ns=$(fleet_ns "$g")
  fleet_conntrackd_conf "$g" "$conf"
  ip netns exec "$ns" conntrackd -C "$conf" >"$LAB_DIR/ctd.$g.out" 2>&1 &
  pid=$!
  LAB_PIDS+=("$pid")
  echo "$pid" >"$LAB_DIR/ctd.$g.pid"
  for _ in $(seq 1 100); do
    fleet_conntrackd "$g" -s >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || lab_die "conntrackd on $g exited: $(cat "$LAB_DIR/ctd.$g.out")"
    sleep 0.1
  done
  lab_die "conntrackd on $g does not answer"
}

fleet_conntrackd() {  # fleet_conntrackd A|B ARGS...: conntrackd's control commands on a gateway
  local g="$1"
  shift
  lab_ns "$(fleet_ns "$g")" conntrackd -C "$LAB_DIR/conntrackd.$g.conf" "$@"
}
