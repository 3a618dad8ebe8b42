#!/usr/bin/env bash
# The operations side of synguard in the live lab: metrics, reloads, the unit's way of starting.
#   live_ops.sh SYNGUARD PART   PART: metrics | reload | service
# metrics  the Debian prometheus server scrapes synguard every second during a bounded spoofed
#          SYN flood; its HTTP API returns the cookie-mode, half-open and cookie series;
#          `promtool check metrics` passes on the exposition; the monitoring check finds every
#          metric the dashboard, the alert rules and docs/METRICS.md use; `synguard status`
#          shows the service in cookie mode
# reload   SIGHUP under traffic: new thresholds and a new service take effect with the table,
#          proxied connections and counters kept; a broken file changes nothing and is counted;
#          rules follow the services
# service  started as the systemd unit starts it: an unprivileged user holding only
#          CAP_NET_ADMIN and CAP_NET_RAW as ambient capabilities, no new privileges, its key in
#          a state directory it owns: it protects, serves metrics, reloads and stops cleanly
set -euo pipefail
synguard="${1:?usage: live_ops.sh SYNGUARD_BINARY PART}"
part="${2:?part: metrics|reload|service}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
lab="$root/scripts/lab"
LAB_ID="sgo$$"
# shellcheck source=../../scripts/lab/netns.sh
source "$lab/netns.sh"
# shellcheck source=lib.sh
source "$here/lib.sh"
PORT=8080
# Every daemon sg_start starts runs two queues and logs its figures every second.
SG_START_QUEUES=2
SG_START_OPTS=(--stats-interval 1)

# promql QUERY -> the first result's value ("" if none), from the lab's prometheus
promql() {
  lab_ns "$NS_G" curl -sf --max-time 5 http://127.0.0.1:9090/api/v1/query \
    --data-urlencode "query=$1" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}

lab_up
lab_flood_routes
lab_server "$PORT" --ipv6
case "$part" in
  metrics)
    command -v prometheus >/dev/null || fail "the prometheus package is missing (scripts/install-deps.sh)"
    sg_start --protect "web=$SERVER4/32,$SERVER6/128:$PORT" --mode adaptive \
      --half-open-on 64 --half-open-off 16 --syn-rate-on 2000 --syn-rate-off 200 --hold 3
    mkdir -p "$LAB_DIR/prom"
    cat >"$LAB_DIR/prom/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $root/docs/monitoring/synguard-alerts.yml
scrape_configs:
  - job_name: synguard
    static_configs:
      - targets: ['127.0.0.1:9815']
YML
    lab_ns "$NS_G" prometheus --config.file="$LAB_DIR/prom/prometheus.yml" \
      --storage.tsdb.path="$LAB_DIR/prom/data" --web.listen-address=127.0.0.1:9090 \
      >"$LAB_DIR/prometheus.log" 2>&1 &
    LAB_PIDS+=("$!")
    for _ in $(seq 1 100); do
      lab_ns "$NS_G" curl -sf http://127.0.0.1:9090/-/ready >/dev/null 2>&1 && break
      sleep 0.2
    done
    lab_ns "$NS_G" curl -sf http://127.0.0.1:9090/-/ready >/dev/null ||
      fail "prometheus did not start: $(tail -5 "$LAB_DIR/prometheus.log")"
    # Prometheus hands new targets to its scrape manager every 5 s: wait for the first scrape.
    for _ in $(seq 1 60); do
      [ "$(promql 'up{job="synguard"}' 2>/dev/null || true)" = 1 ] && break
      sleep 0.5
    done
    [ "$(promql 'up{job="synguard"}')" = 1 ] || fail "prometheus never scraped synguard"
    # Legitimate traffic first: normal mode in the series.
    lab_client --host "$SERVER4" --port "$PORT" --mode normal --count 20 --bytes 1000 ||
      fail "legitimate connections before the flood"
    sleep 2
    [ "$(promql 'synguard_service_mode{service="web",mode="normal"}')" = 1 ] ||
      fail "prometheus does not see the service in normal mode"
    # The flood lasts until the checks below are done (an event: killed after them; a 180 s
    # cap), so everything "during the flood" is seen during it however slowly a loaded
    # machine runs the queries. 2,500 SYNs/s: what is tested is what Prometheus sees, not
    # capacity; at 60,000/s next to a compile the queues overflowed and legitimate
    # connections failed with them.
    lab_flood_conf v4 "$PORT" "$LAB_DIR/flood.cfg"
    lab_flood "$LAB_DIR/flood.cfg" 180 2500pps "$LAB_DIR/trafgen.log"
    tg=$LAB_FLOOD_PID
    # Counts, not windows: a rate or increase over the last few seconds depends on when the
    # query runs and on Prometheus' scrapes keeping time, which a loaded machine delays (an
    # increase over 15 s read 0 once the queries ran late). Each is waited for, up to 60 s.
    prom_wait() {  # prom_wait QUERY MIN: until Prometheus answers a value >= MIN
      local v
      for _ in $(seq 1 120); do
        v=$(promql "$1" || true)
        python3 -c "import sys; sys.exit(0 if float('${v:-0}') >= $2 else 1)" && return 0
        sleep 0.5
      done
      return 1
    }
    prom_wait 'synguard_service_mode{service="web",mode="cookie"}' 1 ||
      fail "prometheus does not see cookie mode"
    lab_ns "$NS_G" "$synguard" status --once >"$LAB_DIR/status.txt" || fail "synguard status"
    cat "$LAB_DIR/status.txt"
    grep -qE "^web +COOKIE" "$LAB_DIR/status.txt" || fail "status does not show web in cookie mode"
    lab_client --host "$SERVER4" --port "$PORT" --mode normal --count 50 --bytes 100 \
      --timeout 1 --min-ok 0.98 >"$LAB_DIR/legit.log" || fail "legitimate connections during the flood: $(cat "$LAB_DIR/legit.log")"
    prom_wait 'synguard_cookies_sent_total{service="web"}' 10000 ||
      fail "prometheus saw fewer than 10000 cookies sent: $(promql 'synguard_cookies_sent_total{service="web"}' || true)"
    # (200 ms snapshots, 1 s scrapes: the last connections show up a moment later.)
    prom_wait 'synguard_cookies_validated_total{service="web"}' 40 ||
      fail "validated cookies $(promql 'synguard_cookies_validated_total{service="web"}' || true) (50 legitimate connections were made)"
    ho=$(promql 'synguard_service_half_open_connections{service="web"}' || true)
    [ -n "$ho" ] || fail "no half-open series"
    rate=$(promql 'rate(synguard_cookies_sent_total{service="web"}[10s])' || true)
    echo "during the flood, from prometheus: cookie mode, cookies sent $(promql 'synguard_cookies_sent_total{service="web"}' || true) (rate over 10 s ${rate:-?}/s), half-open $ho, cookies validated $(promql 'synguard_cookies_validated_total{service="web"}' || true)"
    scrape >"$LAB_DIR/exposition.txt"
    # The flood's processes are the only ones in the attacker's namespace.
    for pid in $(ip netns pids "$NS_A"); do kill "$pid" 2>/dev/null || true; done
    wait "$tg" || true
    promtool check metrics <"$LAB_DIR/exposition.txt" || fail "promtool check metrics"
    bash "$root/tests/monitoring/check_monitoring.sh" "$LAB_DIR/exposition.txt" ||
      fail "the dashboard, the alert rules and docs/METRICS.md against the exposition"
    # The alert for a service under attack fired (rules evaluated every second).
    alerts=$(lab_ns "$NS_G" curl -sf http://127.0.0.1:9090/api/v1/alerts)
    echo "alerts: $(echo "$alerts" | python3 -c 'import json,sys; print(sorted({a["labels"]["alertname"] + ":" + a["state"] for a in json.load(sys.stdin)["data"]["alerts"]}))')"
    echo PASS live_ops metrics
    ;;
  reload)
    cfg="$LAB_DIR/synguard.yaml"
    service_yaml() {  # service_yaml NAME PORT MODE ON OFF
      printf '  - name: %s\n    addresses: [%s/32, "%s/128"]\n    ports: [%s]\n    mode: %s\n    half_open: {on: %s, off: %s}\n' \
        "$1" "$SERVER4" "$SERVER6" "$2" "$3" "$4" "$5"
    }
    { echo "services:"; service_yaml web "$PORT" always 1000 500; echo "logging: {level: info}"; } >"$cfg"
    "$synguard" check-config "$cfg" || fail "check-config refused the lab's configuration"
    sg_start --config "$cfg"
    # A proxied connection that lives across the reloads: half its upload before, half after.
    cat >"$LAB_DIR/long.py" <<'PY'
import hashlib, os, socket, sys, time
host, port, ready, go = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
n = 4_000_000
data = os.urandom(n)
s = socket.create_connection((host, port), timeout=20)
s.sendall(b"SINK %d\n" % n)
s.sendall(data[: n // 2])
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.05)
s.sendall(data[n // 2 :])
got = s.makefile().readline().strip()
print("intact" if got == hashlib.sha256(data).hexdigest() else "corrupted")
PY
    lab_ns "$NS_C" python3 "$LAB_DIR/long.py" "$SERVER4" "$PORT" "$LAB_DIR/ready" "$LAB_DIR/go" \
      >"$LAB_DIR/long.out" 2>&1 &
    long=$!
    for _ in $(seq 1 100); do [ -f "$LAB_DIR/ready" ] && break; sleep 0.05; done
    [ -f "$LAB_DIR/ready" ] || fail "the long connection did not start: $(cat "$LAB_DIR/long.out")"
    lab_client --host "$SERVER4" --port "$PORT" --mode normal --count 10 --bytes 100 ||
      fail "connections before the reload"
    sleep 0.5
    validated=$(metric 'synguard_cookies_validated_total{service="web"}')
    proxied=$(metric 'synguard_proxied_connections')
    echo "before the reload: proxied now $proxied, cookies validated $validated"
    [ "$proxied" -ge 1 ] || fail "the long connection is not proxied"
    # Reload 1: web goes adaptive with new thresholds, a new service on another port.
    { echo "services:"; service_yaml web "$PORT" adaptive 5000 2500; service_yaml api 9090 adaptive 100 50
      echo "logging: {level: info}"; } >"$cfg"
    kill -HUP "$SG_PID"
    for _ in $(seq 1 50); do grep -q "configuration reloaded" "$LAB_DIR/sg.log" && break; sleep 0.1; done
    grep "configuration reload" "$LAB_DIR/sg.log" | tail -1
    grep -q "configuration reloaded: 2 service(s), rules re-installed" "$LAB_DIR/sg.log" ||
      fail "reload 1 not applied"
    sleep 0.5
    [ "$(metric 'synguard_config_reloads_total{result="success"}')" = 1 ] || fail "reload not counted"
    scrape_has 'synguard_service_half_open_connections{service="api"}' ||
      fail "the new service has no metrics"
    [ "$(metric 'synguard_cookies_validated_total{service="web"}')" -ge "$validated" ] ||
      fail "web's counters were reset by the reload"
    [ "$(metric 'synguard_service_mode{mode="cookie",service="web"}')" = 1 ] ||
      fail "web left cookie mode on the reload instead of after its hold time"
    rules_now="$(lab_ns "$NS_G" iptables-nft -t raw -S SYNGUARD 2>/dev/null || true)
$(lab_ns "$NS_G" nft list table inet synguard 2>/dev/null || true)"
    if grep -q 9090 <<<"$rules_now"; then
      echo "rules: port 9090 is queued now"
    else
      fail "the rules did not follow the new service"
    fi
    # Reload 2: a broken file changes nothing.
    printf 'services: [\n  {name: web, ports: [80]\n' >"$cfg"
    kill -HUP "$SG_PID"
    for _ in $(seq 1 50); do grep -q "configuration reload failed" "$LAB_DIR/sg.log" && break; sleep 0.1; done
    grep "configuration reload failed" "$LAB_DIR/sg.log" | tail -1
    grep -q "configuration reload failed, nothing changed: $cfg:[0-9]*:[0-9]*: " "$LAB_DIR/sg.log" ||
      fail "the broken file was not refused with its location"
    sleep 0.5
    [ "$(metric 'synguard_config_reloads_total{result="failure"}')" = 1 ] || fail "failure not counted"
    [ "$(metric 'synguard_config_last_reload_success')" = 0 ] || fail "last reload not marked failed"
    scrape_has 'synguard_service_half_open_connections{service="api"}' ||
      fail "the failed reload changed the services"
    # Reload 3: settings sized or fixed at start are named as kept (they need a restart).
    { echo "services:"; service_yaml web "$PORT" adaptive 5000 2500; service_yaml api 9090 adaptive 100 50
      echo "logging: {level: info}"; echo "half_open_accounting: {source_prefix_v4: 16}"
      echo "cookies: {mss_v4: [536, 1460]}"; } >"$cfg"
    kill -HUP "$SG_PID"
    for _ in $(seq 1 50); do [ "$(grep -c "configuration reloaded" "$LAB_DIR/sg.log")" -ge 2 ] && break; sleep 0.1; done
    kept=$(grep "configuration reloaded" "$LAB_DIR/sg.log" | tail -1)
    echo "$kept"
    grep -q "rules unchanged; needs a restart, kept as running: source prefix lengths, cookie window and MSS tables" <<<"$kept" ||
      fail "the reload did not name the settings it kept"
    # The proxied connection finishes intact; new connections still work.
    touch "$LAB_DIR/go"
    wait "$long" || true
    echo "long proxied connection across both reloads: $(cat "$LAB_DIR/long.out")"
    grep -q intact "$LAB_DIR/long.out" || fail "the proxied connection did not survive the reloads"
    lab_client --host "$SERVER4" --port "$PORT" --mode normal --count 10 --bytes 100 ||
      fail "connections after the reloads"
    sg_stop
    echo PASS live_ops reload
    ;;
  service)
    state=$(mktemp -d /tmp/synguard-state.XXXXXX)  # outside LAB_DIR (0700, root's)
    trap 'rm -rf "$state"; lab_down' EXIT
    chown nobody:nogroup "$state"
    chmod 0700 "$state"
    cfg="$state/synguard.yaml"
    cat >"$cfg" <<YML
services:
  - name: web
    addresses: [$SERVER4/32]
    ports: [$PORT]
    mode: always
cookies: {key_file: $state/cookie.key}
stats_interval: 1s
# The user it already runs as (as under the unit with User=synguard): nothing to change.
user: nobody
YML
    chmod 0644 "$cfg"
    # As systemd does it for User=synguard + AmbientCapabilities + NoNewPrivileges.
    ip netns exec "$NS_G" setpriv --reuid=nobody --regid=nogroup --clear-groups \
      --inh-caps=-all,+net_admin,+net_raw --ambient-caps=-all,+net_admin,+net_raw \
      --bounding-set=-all,+net_admin,+net_raw --no-new-privs \
      "$synguard" run --config "$cfg" --queues 2 >>"$LAB_DIR/sg.log" 2>&1 &
    SG_PID=$!
    LAB_PIDS+=("$SG_PID")
    for _ in $(seq 1 600); do
      grep -q "protecting" "$LAB_DIR/sg.log" 2>/dev/null && break
      kill -0 "$SG_PID" 2>/dev/null || fail "synguard exited: $(tail -3 "$LAB_DIR/sg.log")"
      sleep 0.05
    done
    grep -q "protecting" "$LAB_DIR/sg.log" || fail "synguard did not start unprivileged"
    [ "$(stat -c %U:%a "$state/cookie.key")" = "nobody:600" ] ||
      fail "key file: $(stat -c %U:%a "$state/cookie.key")"
    status=$(cat "/proc/$SG_PID/status")
    echo "$status" | grep -E "^(Uid|CapEff|CapAmb|NoNewPrivs)"
    echo "$status" | grep -E "^Uid:\s+65534" >/dev/null || fail "not running as nobody"
    [ "$(echo "$status" | awk '/^CapEff/ {print $2}')" = 0000000000003000 ] ||
      fail "effective capabilities are not exactly NET_ADMIN + NET_RAW"
    lab_client --host "$SERVER4" --port "$PORT" --mode normal --count 20 --bytes 1000 ||
      fail "proxied connections through the unprivileged daemon"
    sleep 0.5
    [ "$(metric 'synguard_proxied_connections_total')" -ge 20 ] || fail "metrics: not proxied"
    sed -i 's/mode: always/mode: adaptive/' "$cfg"
    kill -HUP "$SG_PID"
    for _ in $(seq 1 50); do grep -q "configuration reloaded" "$LAB_DIR/sg.log" && break; sleep 0.1; done
    grep -q "configuration reloaded" "$LAB_DIR/sg.log" || fail "reload as nobody"
    kill -TERM "$SG_PID"
    rc=0
    wait "$SG_PID" || rc=$?
    [ "$rc" -eq 0 ] || fail "exit status $rc"
    if lab_ns "$NS_G" nft list tables | grep -E "synguard|raw" >/dev/null; then
      fail "rules left behind: $(lab_ns "$NS_G" nft list tables | tr '\n' ' ')"
    fi
    echo PASS live_ops service
    ;;
  *)
    fail "unknown part $part"
    ;;
esac
