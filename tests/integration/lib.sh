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

# wait_until SECONDS CONDITION: evaluates the bash condition every 0.1 s until it holds (0) or
# SECONDS pass (1). For counts that are certain to arrive (the workers publish their counters a
# few times a second, slower on a busy machine): wait for them, then assert exactly.
wait_until() {
  local i
  for ((i = 0; i < $1 * 10; i++)); do
    eval "$2" && return 0
    sleep 0.1
  done
  return 1
}

# metrics_settle: after a flood has ended, waits (up to 30 s) until the daemon's counters have
# stopped moving — the same exposition three times, 0.7 s apart (more than the main thread's
# 0.5 s accounting and the workers' snapshots) — so what is read next is final, not a sample
# taken before a busy machine got round to publishing it. (Ended connections and evictions are
# left out: timeouts move them while idle.)
metrics_settle() {
  local prev="" cur same=0 i
  for ((i = 0; i < 43; i++)); do
    cur=$(scrape | grep -E '^synguard_[a-z_]*_total' | grep -vE '^synguard_(connections_ended|table_evictions)' || true)
    if [ -n "$cur" ] && [ "$cur" = "$prev" ]; then
      same=$((same + 1))
      [ "$same" -ge 2 ] && return 0
    else
      same=0
    fi
    prev=$cur
    sleep 0.7
  done
  return 1
}
