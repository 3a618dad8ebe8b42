# shellcheck shell=bash
# What the live tests share, sourced after scripts/lab/netns.sh (which sets NS_G, LAB_DIR and
# LAB_PIDS); the caller sets $synguard to the binary under test. Sourcing it needs neither: the
# lab is used only by the functions that are called (tests/tune/prometheus_history.sh sources it
# without one, for wait_until).

SG_WRAP=()
SG_PID=""
SG_START_QUEUES=""
SG_START_OPTS=()
SG_STOP_VERIFY=""

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

# sg_start [synguard run options...]: sg_launch with the options the test starts every daemon
# with before the caller's: `--queues SG_START_QUEUES` when that is set (`SG_START_QUEUES=1
# sg_start ...` for one start), then the array SG_START_OPTS. Neither is set by default: then it
# is sg_launch itself.
sg_start() {
  local queues=()
  if [ -n "$SG_START_QUEUES" ]; then queues=(--queues "$SG_START_QUEUES"); fi
  sg_launch "${queues[@]}" "${SG_START_OPTS[@]}" "$@"
}

# sg_stop: SIGTERM to the daemon; fails unless it exits with 0. With SG_STOP_VERIFY set (a test
# sets it once), it also prints how long the stop took and what it returned, fails if it took 10 s
# or more, and fails if the gateway is left with our nft table, our iptables chain or an empty
# raw table.
sg_stop() {
  local t0="" dt rc=0
  if [ -n "$SG_STOP_VERIFY" ]; then t0=$(date +%s.%N); fi
  kill -TERM "$SG_PID"
  wait "$SG_PID" || rc=$?
  if [ -z "$SG_STOP_VERIFY" ]; then
    [ "$rc" -eq 0 ] || fail "synguard exited with $rc"
    return 0
  fi
  dt=$(python3 -c "print(round($(date +%s.%N) - $t0, 2))")
  echo "synguard stopped in ${dt}s with status $rc"
  [ "$rc" -eq 0 ] || fail "synguard exited with $rc on SIGTERM"
  # Idle, a stop takes 0.15-0.2 s; next to a compile it took up to 2.1 s (removing the rules
  # and joining the workers wait for CPU). The cap is a hang guard, not a speed test: a stop
  # that waits on a timer (civetweb's 2 s listener poll, b6b946f) no longer fails here.
  python3 -c "import sys; sys.exit(0 if $dt < 10.0 else 1)" || fail "stop took ${dt}s"
  if lab_ns "$NS_G" nft list tables | grep "inet synguard" >/dev/null; then
    fail "table inet synguard left behind"
  fi
  if lab_ns "$NS_G" iptables-nft -t raw -S 2>/dev/null | grep SYNGUARD >/dev/null; then
    fail "iptables chain SYNGUARD left behind"
  fi
  # The lab's gateway has no raw tables of its own: ones created for our chains must go too.
  if lab_ns "$NS_G" nft list tables | grep -E "table ip6? raw" >/dev/null; then
    fail "empty iptables raw table left behind: $(lab_ns "$NS_G" nft list tables | tr '\n' ' ')"
  fi
}

# queue_waiting: the packets waiting in the gateway's netfilter queues, all of them together.
# shellcheck disable=SC2016  # $3 is awk's
queue_waiting() { lab_ns "$NS_G" awk '{ s += $3 } END { print s + 0 }' /proc/net/netfilter/nfnetlink_queue; }

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
