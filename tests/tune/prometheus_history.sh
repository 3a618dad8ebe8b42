#!/usr/bin/env bash
# synguard tune against a real Prometheus server (issue #17): a recorded history of synguard's own
# metrics (tests/tune/gen_history.py: 15 days at 60 s, two services, fixed seed) backfilled with
# promtool, once with a 90-minute SYN flood on "web" and once without; two Prometheus servers
# on free ports of 127.0.0.1 serve them. Needs no root and no namespaces.
#   prometheus_history.sh SYNGUARD PROMETHEUS_DUMP PART
# PART: loader (the Prometheus source alone, through tests/prometheus_dump: samples, flagged
# windows, peaks, error answers), tune (synguard tune: the flood is excluded and does not raise
# the baseline; by hour of week; the SVG), errors (synguard tune's exit 2 on an unreachable
# server, no series, a Prometheus error).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
synguard="$1"
dump="$2"
part="$3"
work=$(mktemp -d)
# For wait_until. Its other functions need the lab only when called; its fail is replaced below.
# shellcheck source=tests/integration/lib.sh
source "$here/../integration/lib.sh"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL prometheus_history.$part: $*"
  exit 1
}
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
json() { python3 -c "import json, sys; d = json.load(open(sys.argv[1])); print($2)" "$1"; }
for tool in promtool prometheus python3; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (Debian: prometheus, python3)"
done

# A history in OpenMetrics, backfilled into its own TSDB, served by a Prometheus on a free port.
# serve NAME [--attack]: sets PORT_NAME.
# The history runs 10 minutes into the future, so that `synguard tune` (which asks for the 14
# days up to now) finds 14 full days whenever in the next 10 minutes it runs; the driver asks
# for the 14 days up to QEND, the same in every run.
END=$(($(date +%s) / 60 * 60 + 600))
QEND=$((END - 300))
# 15 days, so that the 14 days asked for hold every hour of the week twice: the flood's hours
# keep a normal day in by_hour_of_week.
DAYS=15
serve() {
  local name="$1" port
  shift
  python3 "$here/gen_history.py" --end "$END" --days "$DAYS" "$@" --out "$work/$name.om" --info "$work/$name.json"
  promtool tsdb create-blocks-from openmetrics -q "$work/$name.om" "$work/$name.tsdb" \
    >"$work/$name.promtool.log" 2>&1 || fail "promtool: $(tail -3 "$work/$name.promtool.log")"
  printf 'global:\n  scrape_interval: 1h\n' >"$work/$name.yml"
  port=$(free_port)
  prometheus --storage.tsdb.path "$work/$name.tsdb" --storage.tsdb.retention.time=30d \
    --web.listen-address="127.0.0.1:$port" --config.file="$work/$name.yml" \
    >"$work/$name.log" 2>&1 &
  PIDS+=($!)
  wait_until 60 "curl -sf http://127.0.0.1:$port/-/ready >/dev/null" ||
    fail "Prometheus ($name) not ready in 60 s: $(tail -3 "$work/$name.log")"
  printf -v "PORT_$name" '%s' "$port"
}

cat >"$work/synguard.yaml" <<'YAML'
services:
  - name: web
    addresses: [198.51.100.10/32]
    ports: [80, 443]
    mode: adaptive
    half_open: {on: 1000, off: 500}  # the example's guess, which tune replaces
    syn_rate: {on: 5000, off: 2000}
    hold: 30s
  - name: ssh
    addresses: [198.51.100.10/32]
    ports: [22]
    mode: adaptive
    half_open: {on: 1000, off: 500}
    syn_rate: {on: 5000, off: 2000}
    hold: 30s
YAML

part_loader() {
  serve attacked --attack
  serve clean
  local url="http://127.0.0.1:$PORT_attacked" since=$((14 * 86400)) started took
  started=$(date +%s%N)
  "$dump" "$url" "$since" "$QEND" 60 web ssh >"$work/dump.json" || fail "prometheus_dump failed"
  json "$work/dump.json" "d[\"origin\"]" | grep -q "(8 requests, " || fail "14 days: not 8 requests"
  took=$((($(date +%s%N) - started) / 1000000))
  echo "14d at 60s: $(json "$work/dump.json" 'd["origin"]'); the driver took ${took} ms"
  "$dump" "http://127.0.0.1:$PORT_clean" "$since" "$QEND" 60 web ssh >"$work/clean.json" ||
    fail "prometheus_dump (clean) failed"
  local minutes attack_minutes
  minutes=$(json "$work/attacked.json" 'd["minutes"]')
  attack_minutes=$(json "$work/attacked.json" 'd["attack"]["minutes"]')
  python3 - "$work/dump.json" "$work/clean.json" "$work/attacked.json" <<'PY' || fail "samples"
import json, sys
got, clean, info = (json.load(open(p)) for p in sys.argv[1:])
svc = {s["service"]: s for s in got["services"]}
cln = {s["service"]: s for s in clean["services"]}
att = info["attack"]
errors = []
def check(cond, what):
    if not cond:
        errors.append(what)
check(set(svc) == {"web", "ssh"}, f"services {sorted(svc)}")
# 14 days of windows (the history is one day longer).
windows = 14 * 1440
for name in ("web", "ssh"):
    check(svc[name]["samples"] == windows, f"{name}: {svc[name]['samples']} samples")
    check(svc[name]["width"] == 60, f"{name}: width {svc[name]['width']}")
    check(svc[name]["completed_unknown"] == 0, f"{name}: completed unknown")
detected = att["minutes"] - att["undetected_minutes"]
check(svc["web"]["cookie_mode"] == detected, f"web cookie windows {svc['web']['cookie_mode']} != {detected}")
check(svc["web"]["completed_below_half"] == att["minutes"],
      f"web windows with most handshakes incomplete {svc['web']['completed_below_half']} != {att['minutes']}")
check(svc["web"]["peak_half_open"] == att["half_open"], "web peak half-open")
check(abs(svc["web"]["peak_syn_rate"] - att["syn_rate"]) < 1e-6, "web peak SYN rate")
for name in ("web", "ssh"):
    check(cln[name]["cookie_mode"] == 0 and cln[name]["completed_below_half"] == 0, f"clean {name} flagged")
    check(cln[name]["peak_half_open"] == info["normal_peak"][name]["half_open"], f"clean {name} peak")
check(svc["ssh"] == cln["ssh"] | {}, "ssh differs between the histories")
if errors:
    print("\n".join(errors))
    sys.exit(1)
print(f"web: {svc['web']['samples']} windows, {svc['web']['cookie_mode']} in cookie mode, "
      f"{svc['web']['completed_below_half']} with most handshakes incomplete; peak half-open "
      f"{svc['web']['peak_half_open']:.0f} (normal {cln['web']['peak_half_open']:.0f})")
PY
  # 1 day at 60 s (1,440 points a series) is one request a query; 14 days are two (11,000 + 9,160).
  "$dump" "$url" 86400 0 60 web >"$work/day.json" || fail "one day"
  json "$work/day.json" 'd["origin"]' | grep -q "(4 requests, " ||
    fail "one day: $(json "$work/day.json" 'd["origin"]')"
  # Answers that are not a matrix: canned files behind python's http.server.
  mkdir -p "$work/canned/api/v1"
  echo '{"status":"error","errorType":"bad_data","error":"1:1: parse error: unexpected"}' \
    >"$work/canned/api/v1/query_range"
  local port out
  port=$(free_port)
  python3 -m http.server --bind 127.0.0.1 --directory "$work/canned" "$port" >"$work/http.log" 2>&1 &
  PIDS+=($!)
  wait_until 30 "curl -sf http://127.0.0.1:$port/api/v1/query_range >/dev/null" ||
    fail "http.server not up"
  out=$("$dump" "http://127.0.0.1:$port" 3600 0 60 web 2>&1) && fail "a Prometheus error passed"
  [[ "$out" == *"answered HTTP 200 to max by (service) (synguard_service_half_open_connections): Prometheus error (bad_data): 1:1: parse error: unexpected"* ]] ||
    fail "Prometheus error: $out"
  out=$("$dump" "http://127.0.0.1:$port/nothing" 3600 0 60 web 2>&1) && fail "HTTP 404 passed"
  [[ "$out" == *"answered HTTP 404 to max by (service)"* ]] || fail "HTTP 404: $out"
  echo "PASS prometheus_history.loader"
}

tune() { # tune NAME URL OUT: synguard tune over 14 days
  "$synguard" tune --config "$work/synguard.yaml" --prometheus "$2" --since 14d --out "$3" \
    >"$work/$1.stdout" 2>"$work/$1.stderr" || fail "synguard tune ($1): $(cat "$work/$1.stderr")"
}

part_tune() {
  "$synguard" tune --help >/dev/null 2>&1 || fail "$synguard has no tune command"
  serve attacked --attack
  serve clean
  local started took
  started=$(date +%s%N)
  tune attacked "http://127.0.0.1:$PORT_attacked" "$work/out-attacked"
  took=$((($(date +%s%N) - started) / 1000000))
  echo "synguard tune over 14 d of Prometheus history took ${took} ms"
  tune clean "http://127.0.0.1:$PORT_clean" "$work/out-clean"
  python3 - "$work/out-attacked" "$work/out-clean" "$work/attacked.json" <<'PY' || fail "report"
import json, sys, xml.etree.ElementTree as ET
attacked, clean = (json.load(open(d + "/tune-report.json")) for d in sys.argv[1:3])
info = json.load(open(sys.argv[3]))
att = info["attack"]
errors = []
def check(cond, what):
    if not cond:
        errors.append(what)
A = {s["service"]: s for s in attacked["services"]}
C = {s["service"]: s for s in clean["services"]}
check("prometheus" in attacked["origin"], f"origin {attacked['origin']}")
for name in ("web", "ssh"):
    for rep, label in ((A, "attacked"), (C, "clean")):
        s = rep[name]
        check(s["samples"] == 14 * 1440, f"{label} {name}: samples {s['samples']}")
        check(len(s["by_hour_of_week"]) == 168, f"{label} {name}: by_hour_of_week {len(s['by_hour_of_week'])}")
        check(sorted(h["hour"] for h in s["by_hour_of_week"]) == list(range(168)), f"{label} {name}: hours")
        check("whatif" not in s, f"{label} {name}: a what-if from Prometheus alone")
ex = A["web"]["excluded"]
excluded = ex["cookie_mode"] + ex["incomplete"]
# The flood's windows, give or take one at either edge.
check(att["minutes"] - 2 <= excluded <= att["minutes"] + 2,
      f"web excluded {ex} for a {att['minutes']}-minute flood")
check(ex["cookie_mode"] >= att["minutes"] - att["undetected_minutes"] - 1, f"web cookie windows {ex}")
check(C["web"]["excluded"]["cookie_mode"] == 0 and C["web"]["excluded"]["incomplete"] <= 2,
      f"clean web excluded {C['web']['excluded']}")
check(A["web"]["baseline_samples"] == A["web"]["samples"] - excluded, "baseline_samples")
sa, sc = A["web"]["suggested"], C["web"]["suggested"]
def close(a, b):  # the same suggestion, within the rounding of 90 normal minutes fewer
    return abs(a - b) <= max(1.0, 0.05 * abs(b))
for metric in ("half_open", "syn_rate"):
    for edge in ("on", "off"):
        check(close(sa[metric][edge], sc[metric][edge]),
              f"web {metric}.{edge}: {sa[metric][edge]} with the flood, {sc[metric][edge]} without")
check(A["ssh"]["suggested"] == C["ssh"]["suggested"], "ssh's suggestion moved")
check(att["half_open"] >= 5 * sa["half_open"]["on"], f"flood half-open {att['half_open']} vs on {sa['half_open']['on']}")
check(att["syn_rate"] >= 5 * sa["syn_rate"]["on"], f"flood SYN rate {att['syn_rate']} vs on {sa['syn_rate']['on']}")
check(sa["half_open"]["on"] > info["normal_peak"]["web"]["half_open"], "half_open.on under the normal peak")
# No hour of the week learnt the flood: every hour's p99 is within the normal traffic's peak.
check(max(h["half_open_p99"] or 0 for h in A["web"]["by_hour_of_week"]) <= info["normal_peak"]["web"]["half_open"],
      "an hour of the week learnt the flood's half-open")
for d in sys.argv[1:3]:
    for name in ("web", "ssh"):
        root = ET.parse(f"{d}/tune-{name}.svg").getroot()
        check(root.tag.endswith("svg"), f"{d}/tune-{name}.svg is not SVG")
if errors:
    print("\n".join(errors))
    sys.exit(1)
print(f"web: excluded {ex} of {A['web']['samples']} windows (flood: {att['minutes']} minutes); "
      f"suggested half_open {sa['half_open']} syn_rate {sa['syn_rate']} (without the flood "
      f"{sc['half_open']} {sc['syn_rate']}); flood peak half-open {att['half_open']}, "
      f"SYN rate {att['syn_rate']:.0f}/s")
PY
  echo "PASS prometheus_history.tune"
}

expect_exit2() { # expect_exit2 WHAT PATTERN tune-args...
  local what="$1" pattern="$2" rc=0
  shift 2
  "$synguard" tune "$@" --out "$work/out-err" >"$work/err.stdout" 2>"$work/err.stderr" || rc=$?
  [ "$rc" -eq 2 ] || fail "$what: exit $rc, not 2 ($(cat "$work/err.stderr"))"
  [ "$(wc -l <"$work/err.stderr")" -eq 1 ] || fail "$what: not one line: $(cat "$work/err.stderr")"
  grep -Eq "^synguard tune: $pattern" "$work/err.stderr" || fail "$what: $(cat "$work/err.stderr")"
  echo "$what: $(cat "$work/err.stderr")"
}

part_errors() {
  "$synguard" tune --help >/dev/null 2>&1 || fail "$synguard has no tune command"
  serve attacked --attack
  local closed
  closed=$(free_port) # bound and released: nothing listens there
  mkdir -p "$work/out-err"
  expect_exit2 "unreachable Prometheus" \
    "cannot query Prometheus at http://127.0.0.1:$closed: .*Couldn't connect to server" \
    --config "$work/synguard.yaml" --prometheus "http://127.0.0.1:$closed"
  sed -e 's/name: web/name: shop/' -e 's/name: ssh/name: mail/' "$work/synguard.yaml" >"$work/other.yaml"
  expect_exit2 "no series" \
    "no series for services shop, mail in http://127.0.0.1:$PORT_attacked over 14d \\(" \
    --config "$work/other.yaml" --prometheus "http://127.0.0.1:$PORT_attacked" --since 14d
  echo "PASS prometheus_history.errors"
}

case "$part" in
  loader | tune | errors) "part_$part" ;;
  *) fail "unknown part (loader, tune, errors)" ;;
esac
