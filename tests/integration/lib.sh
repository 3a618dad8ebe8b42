# shellcheck shell=bash
# What the live tests share, sourced after scripts/lab/netns.sh (which sets NS_G, LAB_DIR and
# LAB_PIDS); the caller sets $synguard to the binary under test.

SG_WRAP=()

fail() {
  echo "FAIL $*"
  [ -f "$LAB_DIR/sg.log" ] && tail -20 "$LAB_DIR/sg.log"
  exit 1
}

# sg_launch [synguard run options...]: starts the daemon on the gateway (pid in SG_PID) and
# waits up to 30 s (sanitizer builds start slowly) for its next "protecting" line (a restart
# logs another one). SG_WRAP (an array, e.g.
# (env LD_PRELOAD=...)) is put before the binary.
sg_launch() {
  local before
  before=$(grep -c "protecting" "$LAB_DIR/sg.log" 2>/dev/null || true)
  ip netns exec "$NS_G" "${SG_WRAP[@]}" "$synguard" run --key-file "$LAB_DIR/cookie.key" "$@" \
    >>"$LAB_DIR/sg.log" 2>&1 &
  SG_PID=$!
  LAB_PIDS+=("$SG_PID")
  for _ in $(seq 1 600); do
    [ "$(grep -c "protecting" "$LAB_DIR/sg.log" 2>/dev/null || true)" -gt "${before:-0}" ] && return 0
    kill -0 "$SG_PID" 2>/dev/null || fail "synguard exited: $(tail -3 "$LAB_DIR/sg.log")"
    sleep 0.05
  done
  fail "synguard did not start"
}

# The daemon's Prometheus exposition, and values from it.
scrape() { lab_ns "$NS_G" curl -sf --max-time 5 http://127.0.0.1:9815/metrics; }
# scrape_has PATTERN: the exposition has a line matching it. (Not `scrape | grep -q`: under
# pipefail, grep leaving at its first match can fail curl's remaining writes with SIGPIPE.)
scrape_has() {
  local s
  s=$(scrape) || return 1
  grep -q -- "$1" <<<"$s"
}
metric() {  # metric 'name{labels}' -> its value (0 if absent)
  scrape | awk -v k="$1" '$1 == k { print $2; found = 1 } END { if (!found) print 0 }'
}
metric_sum() {  # metric_sum NAME -> the sum over all its label sets
  scrape | awk -v k="$1" 'index($1, k "{") == 1 || $1 == k { s += $2 } END { printf "%d\n", s }'
}
