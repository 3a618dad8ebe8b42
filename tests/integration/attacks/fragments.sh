# shellcheck shell=bash
# fragments: fragmented SYNs must be counted, not waved through. Sourced by
# live_attacks.sh after lab_up. From the attacker's namespace (scripts/lab/abuse.py, raw
# sockets, paced), spoofed sources in 203.0.113.0/24 and 2001:db8:66::/48:
#   fragsyn  SYNs with 80 bytes of data, each as two IPv4 fragments: the whole TCP header and
#            40 bytes in the first, the rest at offset 64 (nothing overlaps the header)
#   atomic6  IPv6 SYNs carrying an atomic Fragment header (offset 0, M = 0)
#   unsafe   tiny first fragments and later fragments at offsets 8 and 56 bytes, IPv4 and IPv6
# (a) `mode: always`: 3,000 fragmented SYNs, 300 atomic-fragment SYNs and 400 unsafe fragments;
#     the server's namespace counts every packet of a spoofed source before anything else:
#     0 arrive; each fragmented SYN is one SYN and one cookie (synguard_service_syns_received,
#     synguard_cookies_sent, synguard_first_fragments), later fragments and unsafe ones are
#     dropped by name; legitimate clients connect (IPv4 and IPv6).
# (b) `mode: adaptive`, half-open threshold 32 (one queue, so the count is exact): 3,000
#     fragmented SYNs switch the service to cookie mode (normal -> cookie in the log and the
#     metrics); at most the threshold (plus a little slack) of spoofed SYNs reach the server, and
#     legitimate clients connect afterwards.

lab_server "$PORT" --ipv6
lab_flood_routes                                                   # cookies to 2001:db8:66::/48 die
lab_ns "$NS_A" ip -6 route add 2001:db8:5::/64 via 2001:db8:a::1  # the attacker reaches the server

frag_counters() {  # (re)creates the server-side counters of spoofed packets
  lab_ns "$NS_S" nft delete table inet fragcount 2>/dev/null || true
  lab_ns "$NS_S" nft -f - <<'NFT'
table inet fragcount {
  counter all4 {}
  counter first4 {}
  counter all6 {}
  chain in {
    type filter hook prerouting priority -500; policy accept;
    ip saddr 203.0.113.0/24 counter name "all4"
    ip saddr 203.0.113.0/24 ip frag-off & 0x1fff == 0 counter name "first4"
    ip6 saddr 2001:db8:66::/48 counter name "all6"
  }
}
NFT
}
frag_count() { # frag_count NAME -> packets counted at the server
  lab_ns "$NS_S" nft list counter inet fragcount "$1" | grep -oE "packets [0-9]+" | cut -d' ' -f2
}
frag_config() {  # frag_config MODE QUEUES FILE
  cat >"$3" <<EOF
queues:
  count: $2
services:
  - name: web
    addresses: [$SERVER4/32, "$SERVER6/128"]
    ports: [$PORT]
    mode: $1
    half_open: {on: 32, off: 8}
    syn_rate: {on: 1000000, off: 500000}
    hold: 60s
EOF
}
# shellcheck disable=SC2154  # root: set by live_attacks.sh
abuse() { lab_ns "$NS_A" python3 "$root/scripts/lab/abuse.py" --dst "$SERVER4" --dport "$PORT" "$@"; }

# (a) Always in cookie mode.
frag_counters
frag_config always 2 "$LAB_DIR/always.yaml"
sg_launch --config "$LAB_DIR/always.yaml"
abuse --dst6 "$SERVER6" --count 3000 --count6 300 --count-unsafe 50 --pps 4000 \
  fragsyn atomic6 unsafe >"$LAB_DIR/abuse.a.log" 2>&1 || fail "abuse.py: $(cat "$LAB_DIR/abuse.a.log")"
grep -q "send errors" "$LAB_DIR/abuse.a.log" && fail "abuse.py: $(cat "$LAB_DIR/abuse.a.log")"
all_counted() {
  [ "$(metric 'synguard_cookies_sent_total{service="web"}')" -ge 3300 ] &&
    [ "$(metric 'synguard_verdicts_total{reason="fragment_unsafe",verdict="drop"}')" -ge 400 ]
}
wait_until 30 all_counted || true
syns=$(metric 'synguard_service_syns_received_total{service="web"}')
cookies=$(metric 'synguard_cookies_sent_total{service="web"}')
firsts=$(metric synguard_first_fragments_total)
later=$(metric 'synguard_verdicts_total{reason="fragment",verdict="drop"}')
unsafe=$(metric 'synguard_verdicts_total{reason="fragment_unsafe",verdict="drop"}')
r4=$(frag_count all4)
r6=$(frag_count all6)
echo "fragments (always): $(tr '\n' ' ' <"$LAB_DIR/abuse.a.log")-> SYNs counted $syns, cookies $cookies, first fragments $firsts, later fragments dropped $later, unsafe dropped $unsafe; spoofed packets at the server: $r4 IPv4, $r6 IPv6"
[ "$r4" -eq 0 ] && [ "$r6" -eq 0 ] || fail "spoofed packets reached the server: $r4 IPv4, $r6 IPv6"
[ "$syns" -eq 3300 ] || fail "SYNs counted: $syns, sent 3000 fragmented + 300 atomic-fragment"
[ "$cookies" -eq 3300 ] || fail "cookies sent: $cookies, expected one per SYN (3300)"
[ "$firsts" -eq 3000 ] || fail "first fragments classified: $firsts of 3000"
[ "$later" -eq 3000 ] || fail "later fragments dropped: $later of 3000"
[ "$unsafe" -eq 400 ] || fail "unsafe fragments dropped: $unsafe of 400"
lab_client --host "$SERVER4" --port "$PORT" --mode normal --count 10 --bytes 1000 ||
  fail "legitimate IPv4 clients after the fragment flood"
lab_client --host "$SERVER6" --port "$PORT" --mode normal --count 10 --bytes 1000 ||
  fail "legitimate IPv6 clients after the fragment flood"
validated_20() { [ "$(metric 'synguard_cookies_validated_total{service="web"}')" -ge 20 ]; }
wait_until 30 validated_20 || true
val=$(metric 'synguard_cookies_validated_total{service="web"}')
[ "$val" -ge 20 ] || fail "legitimate clients were not proxied ($val validated)"
sg_stop

# (b) Adaptive: the fragmented flood must count toward the switch.
frag_counters
frag_config adaptive 1 "$LAB_DIR/adaptive.yaml"
sg_launch --config "$LAB_DIR/adaptive.yaml"
lab_client --host "$SERVER4" --port "$PORT" --mode normal --count 5 --bytes 1000 ||
  fail "legitimate clients before the flood"
abuse --count 3000 --pps 4000 --seed 8 fragsyn >"$LAB_DIR/abuse.b.log" 2>&1 ||
  fail "abuse.py: $(cat "$LAB_DIR/abuse.b.log")"
syns_counted() { [ "$(metric 'synguard_service_syns_received_total{service="web"}')" -ge 3005 ]; }
wait_until 30 syns_counted || true
syns=$(metric 'synguard_service_syns_received_total{service="web"}')
cookies=$(metric 'synguard_cookies_sent_total{service="web"}')
cookie_mode=$(metric 'synguard_service_mode{mode="cookie",service="web"}')
first4=$(frag_count first4)
all4=$(frag_count all4)
echo "fragments (adaptive, half-open on 32): $(tr '\n' ' ' <"$LAB_DIR/abuse.b.log")-> SYNs counted $syns, cookies $cookies, cookie mode $cookie_mode; spoofed at the server: $first4 SYNs ($all4 fragments)"
grep -q "normal -> cookie" "$LAB_DIR/sg.log" || fail "the fragmented flood did not switch the service to cookies"
[ "$cookie_mode" = 1 ] || fail "the service is not in cookie mode after the flood"
[ "$syns" -ge 3005 ] || fail "SYNs counted: $syns, expected the 3000 fragmented and 5 legitimate"
[ "$first4" -ge 1 ] && [ "$first4" -le 40 ] ||
  fail "$first4 spoofed SYNs reached the server (threshold 32)"
[ "$all4" -le 80 ] || fail "$all4 spoofed fragments reached the server"
[ "$cookies" -ge $((3000 - first4)) ] || fail "cookies sent: $cookies"
sleep 2  # cookie mode resets the flood's half-open connections at the server after 1 s
lab_client --host "$SERVER4" --port "$PORT" --mode normal --count 10 --bytes 1000 ||
  fail "legitimate clients after the fragmented flood"
sg_stop
lab_ns "$NS_S" nft delete table inet fragcount
