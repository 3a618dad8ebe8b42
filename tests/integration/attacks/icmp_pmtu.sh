# shellcheck shell=bash
# icmp_pmtu: path-MTU discovery through the proxy. The service is in `mode: always`,
# so every connection is proxied and the server's sequence numbers are shifted toward the
# client. The gateway's client-side link gets MTU 1280 while the client keeps 1500 (it
# announces MSS 1460, IPv6 1440): the server's full-sized segments cannot be forwarded and the
# gateway itself answers with fragmentation needed / packet too big, quoting the segment as it
# left the proxy (in the client's sequence space).
#  1. Errors kept from the daemon (a table of the test's own marks them as our injected
#     packets, which the queue rules skip): the server's TCP finds the quoted seq outside its
#     send window (TcpExtOutOfWindowIcmps), never lowers its path MTU, and a 1 MB download
#     stalls (the client gives up after 5 s without a byte; tcp_mtu_probing=0, so nothing but
#     ICMP can repair the path).
#  2. Errors queued (the daemon's rules as installed): translated (synguard_icmp_errors_total
#     {outcome="to_server"}), the server caches MTU 1280 for the client and the download
#     completes, checked end to end by sha256.
# Both for IPv4 (ICMP 3/4) and IPv6 (ICMPv6 2).

lab_server "$PORT" --backlog 128 --ipv6
cfg="$LAB_DIR/synguard.yaml"
cat >"$cfg" <<YAML
services:
  - name: web
    addresses: [$SERVER4/32, $SERVER6/128]
    ports: [$PORT]
    mode: always
YAML
lab_ns "$NS_G" ip link set gc mtu 1280
lab_ns "$NS_S" sysctl -qw net.ipv4.tcp_mtu_probing=0
sg_launch --config "$cfg" --queues 1

nstat_of() {  # nstat_of NS COUNTER -> its absolute value (history untouched)
  lab_ns "$1" nstat -asz "$2" | awk -v k="$2" '$1 == k { print $2; found = 1 } END { if (!found) print 0 }'
}

# The test's own table: before our prerouting/output chains (-300), ICMP errors get the mark of
# synguard's injected packets, which our chains let pass unqueued.
skip_icmp_on() {
  lab_ns "$NS_G" nft -f - <<NFT
table inet icmp_skip {
  chain pre {
    type filter hook prerouting priority -301; policy accept;
    meta l4proto { icmp, ipv6-icmp } meta mark set 0x5e000002
  }
  chain out {
    type filter hook output priority -301; policy accept;
    meta l4proto { icmp, ipv6-icmp } meta mark set 0x5e000002
  }
}
NFT
}
skip_icmp_off() { lab_ns "$NS_G" nft delete table inet icmp_skip; }

for fam in 4 6; do
  if [ "$fam" = 4 ]; then
    server="$SERVER4" client="$CLIENT4" gw_out=IcmpOutDestUnreachs srv_in=IcmpInDestUnreachs
  else
    server="$SERVER6" client="$CLIENT6" gw_out=Icmp6OutPktTooBigs srv_in=Icmp6InPktTooBigs
  fi

  # 1. Without translation: a black hole.
  skip_icmp_on
  gw0=$(nstat_of "$NS_G" "$gw_out")
  oow0=$(nstat_of "$NS_S" TcpExtOutOfWindowIcmps)
  metrics_settle # counts of the previous family are published before the baseline is read
  tr0=$(metric 'synguard_icmp_errors_total{outcome="to_server"}')
  if lab_client --host "$server" --port "$PORT" --mode download --bytes 1000000 --timeout 5 \
    >"$LAB_DIR/stall$fam.log" 2>&1; then
    fail "IPv$fam: the download completed although the errors were not translated"
  fi
  gw1=$(nstat_of "$NS_G" "$gw_out")
  oow1=$(nstat_of "$NS_S" TcpExtOutOfWindowIcmps)
  metrics_settle # a translation, had there been one, would be published by now
  tr1=$(metric 'synguard_icmp_errors_total{outcome="to_server"}')
  echo "IPv$fam untranslated: gateway sent $((gw1 - gw0)) $gw_out," \
    "server ignored $((oow1 - oow0)) as out of window"
  [ $((gw1 - gw0)) -ge 1 ] || fail "IPv$fam: the gateway sent no $gw_out (GSO hid the size?)"
  [ $((oow1 - oow0)) -ge 1 ] || fail "IPv$fam: the server did not reject the untranslated errors"
  [ "$tr1" = "$tr0" ] || fail "IPv$fam: errors were translated while kept from the daemon"
  if lab_ns "$NS_S" ip -"$fam" route get "$client" | grep "mtu 1280" >/dev/null; then
    fail "IPv$fam: the server learned the path MTU from untranslated errors"
  fi
  skip_icmp_off

  # 2. With translation: the server lowers its path MTU and the download completes.
  gw0=$(nstat_of "$NS_G" "$gw_out")
  in0=$(nstat_of "$NS_S" "$srv_in")
  oow0=$(nstat_of "$NS_S" TcpExtOutOfWindowIcmps)
  lab_client --host "$server" --port "$PORT" --mode download --bytes 1000000 --timeout 10 \
    >"$LAB_DIR/pmtu$fam.log" 2>&1 ||
    fail "IPv$fam: the download through the proxy failed: $(cat "$LAB_DIR/pmtu$fam.log")"
  gw1=$(nstat_of "$NS_G" "$gw_out")
  in1=$(nstat_of "$NS_S" "$srv_in")
  oow1=$(nstat_of "$NS_S" TcpExtOutOfWindowIcmps)
  # The server already acted on the errors; the worker publishes its count a moment later
  # (much later on a busy machine): wait for it rather than read a snapshot.
  translated() {
    tr2=$(metric 'synguard_icmp_errors_total{outcome="to_server"}')
    [ $((tr2 - tr1)) -ge 1 ]
  }
  wait_until 30 translated || true
  route=$(lab_ns "$NS_S" ip -"$fam" route get "$client" | tr -s " \n" " ")
  echo "IPv$fam translated: gateway sent $((gw1 - gw0)), server got $((in1 - in0))," \
    "synguard translated $((tr2 - tr1)), out of window $((oow1 - oow0)); server: $route"
  [ $((gw1 - gw0)) -ge 1 ] || fail "IPv$fam: the gateway sent no $gw_out"
  [ $((tr2 - tr1)) -ge 1 ] || fail "IPv$fam: synguard translated no error"
  [ $((in1 - in0)) -ge 1 ] || fail "IPv$fam: no error reached the server"
  [ $((oow1 - oow0)) -eq 0 ] || fail "IPv$fam: the server still found translated errors out of window"
  grep -q "mtu 1280" <<<"$route" || fail "IPv$fam: the server has no path MTU 1280: $route"
done
[ "$(metric 'synguard_verdicts_total{reason="proxied",verdict="accept"}')" != 0 ] ||
  fail "nothing was proxied"
sg_stop
