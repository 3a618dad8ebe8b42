# shellcheck shell=bash
# shellcheck disable=SC2154  # root, synguard, PORT, LAB_DIR: set by live_attacks.sh
# server_side: spoofed_server's forgeries sent from *inside the server's network*, into a small
# table, where a kernel anti-spoofing rule cannot tell the spoofed segments from the service's
# own: the engine itself must hold.
# Sourced by live_attacks.sh (lab up; $synguard, $PORT, fail, sg_stop).
#
# The gateway runs with a 1,024-entry table and the service in `mode: always`. From the
# server's namespace, 3,000 ACKs and 3,000 SYN-ACKs with source = the service address:port to
# distinct 203.0.113.x:port clients (more than the table holds); then, from the attacker's
# namespace, a SYN from each of those same tuples to the service (seq = the SYN-ACK's ack - 1).
# Asserted: not one of those SYNs reaches the server's socket (nft counter in the server's
# namespace), every spoofed server-side segment is dropped as a stray and every SYN answered
# with a cookie (metrics, exact: the packets are paced so no queue overflows), and then
# legitimate clients connect through the proxy.

lab_server "$PORT" --backlog 64
lab_ns "$NS_S" nft -f - <<'NFT'
table inet server_side {
  chain in {
    type filter hook prerouting priority -500; policy accept;
    ip saddr 203.0.113.0/24 tcp flags & (syn | ack) == syn counter
  }
}
NFT
ss_reached() {
  lab_ns "$NS_S" nft list table inet server_side | grep -oE "packets [0-9]+" | cut -d' ' -f2
}

cfg="$LAB_DIR/server_side.yaml"
cat >"$cfg" <<YAML
services:
  - name: web
    addresses: [$SERVER4/32]
    ports: [$PORT]
    mode: always
table:
  capacity: 1024
YAML
sg_launch --config "$cfg" --queues 1

# spoof.py ROLE: ROLE=server sends the ACKs and SYN-ACKs from the service; ROLE=client the SYNs
# from the same 3,000 client tuples. 1,000 packets a second: well within what one queue takes.
cat >"$LAB_DIR/spoof.py" <<PY
import ipaddress, socket, sys, time
sys.path.insert(0, "$root/scripts/lab")
import rawpkt
role = sys.argv[1]
srv = ipaddress.ip_address("$SERVER4")
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
def client(i):
    return ipaddress.ip_address("203.0.113.%d" % (1 + i % 250)), 20000 + i
n = 0
for i in range(3000):
    c, cp = client(i)
    x = 1000000 + 7 * i  # the client's ISN the spoofed SYN-ACK acknowledges
    if role == "server":
        for flags in (0x10, 0x12):  # ACK, SYN-ACK
            seg = rawpkt.tcp_segment(srv, c, $PORT, cp, 5000 + i, x + 1, flags)
            s.sendto(rawpkt.ipv4(srv, c, seg), (str(c), 0))
            n += 1
    else:
        seg = rawpkt.tcp_segment(c, srv, cp, $PORT, x, 0, 0x02, opts=b"\x02\x04\x05\xb4")
        s.sendto(rawpkt.ipv4(c, srv, seg), (str(srv), 0))
        n += 1
    if n % 100 == 0:
        time.sleep(0.1)
print(n)
PY
sent_server=$(lab_ns "$NS_S" python3 "$LAB_DIR/spoof.py" server) || fail "spoof.py server"
sent_syn=$(lab_ns "$NS_A" python3 "$LAB_DIR/spoof.py" client) || fail "spoof.py client"
# The workers publish their counters a few times a second: wait (up to 30 s) until every packet
# sent is counted, rather than reading after a fixed sleep.
for _ in $(seq 1 300); do
  strays=$(metric 'synguard_server_side_drops_total')
  cookies=$(metric_sum synguard_cookies_sent_total)
  [ "${strays%.*}" -ge "$sent_server" ] && [ "${cookies%.*}" -ge "$sent_syn" ] && break
  sleep 0.1
done
qdrops=$(metric_sum synguard_queue_kernel_drops_total)
entries=$(metric synguard_table_entries)
reached=$(ss_reached)
echo "server_side: $sent_server spoofed server-side segments -> $strays dropped as strays;" \
  "$sent_syn SYNs on their tuples -> $cookies cookies; SYNs of spoofed sources at the server:" \
  "$reached; table entries $entries; queue drops $qdrops"
[ "$reached" -eq 0 ] || fail "$reached SYNs of the spoofed tuples reached the server"
[ "${qdrops%.*}" -eq 0 ] || fail "the queue overflowed ($qdrops): the counts below mean nothing"
[ "${strays%.*}" -eq "$sent_server" ] || fail "$strays of $sent_server server-side strays dropped"
[ "${cookies%.*}" -eq "$sent_syn" ] || fail "$cookies cookies for $sent_syn SYNs"

lab_client --host "$SERVER4" --port "$PORT" --mode normal --count 5 --bytes 1000 ||
  fail "legitimate clients after the spoofing"
for _ in $(seq 1 300); do
  validated=$(metric_sum synguard_cookies_validated_total)
  [ "${validated%.*}" -ge 5 ] && break
  sleep 0.1
done
[ "${validated%.*}" -ge 5 ] || fail "the legitimate clients were not proxied ($validated)"
reached=$(ss_reached)
[ "$reached" -eq 0 ] || fail "$reached SYNs of spoofed sources reached the server"
sg_stop
lab_ns "$NS_S" nft delete table inet server_side
