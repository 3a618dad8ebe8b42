#!/usr/bin/env bash
# synguard tune end to end, no root: a generated normal day (tests/tune/make_normal_capture.py,
# fixed seed) and the project's flood capture through the real binary. The suggestion must keep
# the normal traffic quiet (no mode change, nothing dropped) and catch the flood within a few
# seconds; an attack inside the history must not raise the baseline; the diff must apply with
# patch -p1 and give a configuration that validates; the SVG must be well-formed XML; and each
# bad input must exit 2 with one line "synguard tune: ...".
# Usage: tune_cli.sh PATH/TO/synguard
set -euo pipefail
bin="$(realpath "$1")"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
flood="$root/tests/data/syn_flood.pcap"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() {
  echo "tune_cli: FAIL: $*" >&2
  exit 1
}

python3 "$here/make_normal_capture.py" normal.pcap 300 40
cp "$root/config/synguard.yaml" synguard.yaml

# 1. A normal day and the flood as an attack.
"$bin" tune --config synguard.yaml --attack "$flood" --out out normal.pcap >stdout.txt
for f in tune-report.txt tune-report.json suggested.yaml config.diff tune-web.svg; do
  [[ -s out/$f ]] || fail "out/$f missing or empty"
done
cmp -s stdout.txt out/tune-report.txt || fail "stdout differs from tune-report.txt"
python3 - out/tune-report.json out/tune-web.svg <<'PY' || fail "report checks"
import json, sys, xml.etree.ElementTree as ET
r = json.load(open(sys.argv[1]))
assert r["sensitivity"] == "medium", r["sensitivity"]
[web] = r["services"]
assert web["service"] == "web"
assert web["samples"] >= 300, web["samples"]
assert web["excluded"] == {"cookie_mode": 0, "incomplete": 0}, web["excluded"]
s = web["suggested"]
assert s["half_open"]["on"] > web["half_open"]["peak"], s
assert s["syn_rate"]["on"] > web["syn_rate"]["peak"], s
assert 0 < s["half_open"]["off"] < s["half_open"]["on"], s
assert s["per_source"]["half_open"] > 0 and s["per_source"]["syn_burst"] > 0, s
w = web["whatif"]
assert w["normal"] == {"mode_changes": 0, "legit_syns_dropped": 0}, w
[a] = w["attacks"]
assert a["seconds_to_cookie"] is not None and a["seconds_to_cookie"] <= 3, a
svg = ET.parse(sys.argv[2]).getroot()
assert svg.tag == "{http://www.w3.org/2000/svg}svg", svg.tag
assert len(svg.findall(".//{http://www.w3.org/2000/svg}polyline")) == 2
print("tune_cli: half_open on %d off %d, syn_rate on %d off %d, hold %ds; flood -> cookie in %.3f s"
      % (s["half_open"]["on"], s["half_open"]["off"], s["syn_rate"]["on"], s["syn_rate"]["off"],
         s["hold_seconds"], a["seconds_to_cookie"]))
PY

# 2. The diff applies with patch -p1, keeps the comments, and the result validates with the
#    suggested values.
mkdir applied
cp synguard.yaml applied/
(cd applied && patch -p1 --quiet <../out/config.diff) || fail "config.diff does not apply"
"$bin" check-config applied/synguard.yaml >/dev/null || fail "the patched config does not validate"
diff <(grep '^ *#' synguard.yaml) <(grep '^ *#' applied/synguard.yaml) >/dev/null ||
  fail "comments changed"
on="$(python3 -c 'import json;print(json.load(open("out/tune-report.json"))["services"][0]["suggested"]["half_open"]["on"])')"
grep -q "half_open: {on: $on," applied/synguard.yaml || fail "patched config lacks half_open on $on"

# 3. An attack inside the history: excluded (cookie mode under the given thresholds), the
#    suggestion unchanged.
"$bin" tune --config synguard.yaml --out mixed normal.pcap "$flood" >/dev/null
# ... and one the thresholds missed (set out of reach): excluded as incomplete.
sed -e 's/half_open: {on: 1000, off: 500}/half_open: {on: 1000000, off: 500}/' \
  -e 's/syn_rate: {on: 5000, off: 2000}/syn_rate: {on: 1000000, off: 2000}/' synguard.yaml >high.yaml
"$bin" tune --config high.yaml --out missed normal.pcap "$flood" >/dev/null
python3 - out/tune-report.json mixed/tune-report.json missed/tune-report.json <<'PY' || fail "contamination"
import json, sys
clean, mixed, missed = (json.load(open(p))["services"][0] for p in sys.argv[1:])
assert mixed["excluded"]["cookie_mode"] >= 1, mixed["excluded"]
assert missed["excluded"]["incomplete"] >= 1 and missed["excluded"]["cookie_mode"] == 0, missed["excluded"]
for r in (mixed, missed):
    for k in ("half_open", "syn_rate"):
        assert r["suggested"][k] == clean["suggested"][k], (k, r["suggested"][k], clean["suggested"][k])
print("tune_cli: flood in the history excluded: cookie_mode %d, incomplete %d (thresholds out of reach)"
      % (mixed["excluded"]["cookie_mode"], missed["excluded"]["incomplete"]))
PY

# 4. Bad input: exit 2, one line on stderr.
expect_error() {  # expect_error PATTERN ARGS...
  local pattern="$1" rc=0
  shift
  "$bin" tune "$@" >/dev/null 2>err.txt || rc=$?
  [[ $rc -eq 2 ]] || fail "tune $* exited $rc, expected 2"
  [[ $(wc -l <err.txt) -eq 1 ]] || fail "tune $*: not one line: $(cat err.txt)"
  grep -Eq "^synguard tune: $pattern" err.txt || fail "tune $*: unexpected: $(cat err.txt)"
}
printf 'services:\n  - name: web\n    addresses: [198.51.100.10/32]\n    ports: [99999]\n' >bad.yaml
expect_error 'bad\.yaml:4:[0-9]+: ' --config bad.yaml normal.pcap
expect_error '.*missing\.yaml' --config missing.yaml normal.pcap
expect_error '.*nonexistent\.pcap' --config synguard.yaml nonexistent.pcap
expect_error '.*synguard\.yaml' --config synguard.yaml synguard.yaml
expect_error '.*rst_refused\.pcap: no traffic to any configured service' \
  --config synguard.yaml "$root/tests/data/rst_refused.pcap"
expect_error '--sensitivity: expected low, medium or high' --config synguard.yaml \
  --sensitivity extreme normal.pcap
expect_error "unknown option '--frobnicate'" --config synguard.yaml --frobnicate normal.pcap
expect_error 'give captures or --prometheus URL' --config synguard.yaml
expect_error '--since: expected a duration' --config synguard.yaml --since soon normal.pcap
expect_error '.*nonexistent\.pcap' --config synguard.yaml --attack nonexistent.pcap normal.pcap
expect_error '' --config synguard.yaml --prometheus http://127.0.0.1:1
echo "tune_cli: ok"
