#!/usr/bin/env bash
# systemd/synguard.service started for real, by a systemd of its own: systemd 252 boots as PID 1
# of fresh pid, mount, network, UTS, IPC and cgroup namespaces (the host needs no systemd and
# nothing is written to its /etc, /var or /run). Under the unit's whole sandbox the daemon:
#   starts (Type=notify) as user synguard holding exactly CAP_NET_ADMIN and CAP_NET_RAW
#   (ambient; CAP_BPF and CAP_PERFMON, which the unit grants for XDP, are dropped without xdp
#   configured and stay in the bounding set only), no new privileges, a seccomp filter; installs its rules (through
#   iptables-nft-restore on kernels without the nft queue expression); creates its key 0600 in
#   /var/lib/synguard (0700); serves metrics; reloads on `systemctl reload`; is restarted by
#   the watchdog when hung (SIGSTOP); follows a `systemctl restart nftables` (PartOf=); stops
#   within TimeoutStopSec leaving no table behind.
#   live_unit.sh SYNGUARD_BINARY   the source tree's unit, config and sysusers user (ctest)
#   live_unit.sh --installed       the installed package as it is (scripts/test-deb.sh)
# Needs root, like the namespace lab, and fails without it. Exit 77 (skipped) only on a host
# already run by systemd: there, start the unit itself.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mode="${1:?usage: live_unit.sh SYNGUARD_BINARY | --installed}"
if [ -d /run/systemd/system ]; then
  echo "SKIP live unit: the host runs systemd (systemctl start synguard there)"
  exit 77
fi
precondition() {
  echo "FAIL live unit: $*"
  exit 1
}
[ "$(id -u)" -eq 0 ] || precondition "needs root (namespaces, cgroups, nftables)"
for c in unshare nsenter findmnt nft curl; do
  command -v "$c" >/dev/null || precondition "$c is missing (scripts/install-deps.sh)"
done
[ -x /lib/systemd/systemd ] || precondition "no /lib/systemd/systemd (package systemd)"
cg2=$(findmnt -n -t cgroup2 -o TARGET | head -1)
[ -n "$cg2" ] || precondition "no cgroup2 file system mounted"

tmp=$(mktemp -d /tmp/synguard-live-unit.XXXXXX)
cg="$cg2/synguard-live-unit-$$"
SD_PID=""
UNSHARE_PID=""
cleanup() {
  set +e
  # Killing a pid namespace's PID 1 kills everything in it; its network namespace (and the
  # daemon's tables) go with the last process.
  # unshare --kill-child takes its child (that PID 1) with it.
  [ -n "$SD_PID" ] && kill -KILL "$SD_PID" 2>/dev/null
  if [ -n "$UNSHARE_PID" ]; then
    kill -KILL "$UNSHARE_PID" 2>/dev/null
    for _ in $(seq 1 50); do
      kill -0 "$UNSHARE_PID" 2>/dev/null || break
      sleep 0.1
    done
  fi
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    [ -d "$cg" ] || break
    find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null
    sleep 0.2
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

if [ "$mode" = --installed ]; then
  unit=/usr/lib/systemd/system/synguard.service
  bin=/usr/sbin/synguard
  config=/etc/synguard/synguard.yaml
  if [ ! -f "$unit" ] || [ ! -x "$bin" ] || [ ! -f "$config" ]; then
    echo "FAIL live unit: synguard is not installed"
    exit 1
  fi
else
  unit="$root/systemd/synguard.service"
  bin="$mode"
  config="$root/config/synguard.yaml"
fi

# Runs as PID 1 of the new namespaces: a private view, then exec systemd.
cat >"$tmp/inner.sh" <<'EOF'
#!/bin/bash
set -euo pipefail
mount --make-rprivate /
mount -t proc proc /proc
umount -R /sys/fs/cgroup 2>/dev/null || umount -l /sys/fs/cgroup
mount -t cgroup2 cgroup2 /sys/fs/cgroup
# systemd's console messages go to a file of the test, not the host's console.
mount --bind "$SGL_TMP/console" /dev/console
mount -t tmpfs tmpfs /run
mkdir -p /run/sgl/bin /run/sgl/up /run/sgl/work
cp "$SGL_BIN" /run/sgl/bin/synguard
cp "$SGL_CONFIG" /run/sgl/synguard.yaml
cp "$SGL_UNIT" /run/sgl/synguard.service
# /etc through an overlay: user, config and unit changes stay in this namespace.
mount -t overlay overlay -o lowerdir=/etc,upperdir=/run/sgl/up,workdir=/run/sgl/work /etc
# Nothing of the host's own boot: its enabled units and sysinit/multi-user wants are hidden.
for d in /etc/systemd/system /lib/systemd/system/sysinit.target.wants \
  /lib/systemd/system/multi-user.target.wants /lib/systemd/system/timers.target.wants \
  /var/log/journal /var/lib /var/cache /var/tmp /tmp; do
  [ -d "$d" ] && mount -t tmpfs tmpfs "$d"
done
mkdir -p /run/systemd/system
if [ "$SGL_MODE" != --installed ]; then
  getent passwd synguard >/dev/null || systemd-sysusers "$SGL_ROOT/systemd/synguard.sysusers"
  mkdir -p /etc/synguard
  cp /run/sgl/synguard.yaml /etc/synguard/synguard.yaml
  sed "s#/usr/sbin/synguard#/run/sgl/bin/synguard#g" /run/sgl/synguard.service \
    >/run/systemd/system/synguard.service
fi
printf '%s\n' '[Unit]' 'Description=synguard live unit test' \
  'Wants=systemd-journald.socket systemd-journald.service' >/run/systemd/system/synguard-live.target
export container=synguard-live-unit
exec /lib/systemd/systemd --system --unit=synguard-live.target --log-target=console \
  --log-level=notice --show-status=no
EOF
chmod 755 "$tmp/inner.sh"
: >"$tmp/console"
mkdir "$cg"
(
  echo "$BASHPID" >"$cg/cgroup.procs"
  SGL_TMP="$tmp" SGL_BIN="$bin" SGL_CONFIG="$config" SGL_UNIT="$unit" SGL_MODE="$mode" \
    SGL_ROOT="$root" exec unshare --pid --mount --net --uts --ipc --cgroup --kill-child \
    "$tmp/inner.sh"
) >"$tmp/boot.log" 2>&1 &
UNSHARE_PID=$!
disown "$UNSHARE_PID"  # killed and reaped in cleanup, without job-control noise

fail() {
  set +e
  echo "FAIL live unit: $*"
  if [ -n "$SD_PID" ]; then
    ns systemctl status synguard --no-pager -l 2>&1 | head -20
    ns journalctl -u synguard --no-pager -o short-monotonic 2>&1 | tail -20
  fi
  tail -n 20 "$tmp/boot.log" "$tmp/console"
  exit 1
}
ns() { nsenter -t "$SD_PID" -m -p -n -u -i -C "$@"; }
show() { ns systemctl show synguard -p "$1" --value; }

for _ in $(seq 1 100); do
  SD_PID=$(pgrep -P "$UNSHARE_PID" -x systemd || true)
  [ -n "$SD_PID" ] && break
  kill -0 "$UNSHARE_PID" 2>/dev/null || fail "the namespace did not start"
  sleep 0.1
done
[ -n "$SD_PID" ] || fail "systemd did not start"
state=""
for _ in $(seq 1 150); do
  state=$(ns systemctl is-system-running 2>/dev/null || true)
  case "$state" in running | degraded) break ;; esac
  sleep 0.2
done
case "$state" in running | degraded) ;; *) fail "systemd is '$state'" ;; esac
echo "systemd $(ns systemctl --version | head -1 | cut -d' ' -f2) up as PID 1 of its namespaces"

# 1. Start: ready only once its rules are in (Type=notify).
ns systemctl start synguard || fail "systemctl start"
[ "$(show ActiveState)" = active ] || fail "not active"
pid=$(show MainPID)
st=$(ns cat "/proc/$pid/status")
user=$(ns ps -o user= -p "$pid")
[ "$user" = synguard ] || fail "runs as '$user'"
for want in "CapEff:	0000000000003000" "CapPrm:	0000000000003000" "CapAmb:	0000000000003000" \
  "CapBnd:	000000c000003000" "NoNewPrivs:	1" "Seccomp:	2"; do
  grep -qF "$want" <<<"$st" || fail "not '$want': $(grep -E '^(Cap|NoNew|Seccomp)' <<<"$st")"
done
ns nft list table inet synguard >/dev/null 2>&1 || fail "no table inet synguard"
key=$(ns stat -c '%a %U' /var/lib/synguard /var/lib/synguard/cookie.key | tr '\n' ' ')
[ "$key" = "700 synguard 600 synguard " ] || fail "state directory and key: $key"
metrics=$(ns curl -sf --max-time 5 http://127.0.0.1:9815/metrics) || fail "no metrics"
grep -q '^synguard_build_info' <<<"$metrics" || fail "metrics without synguard_build_info"
echo "started: user synguard, CAP_NET_ADMIN+CAP_NET_RAW ambient, seccomp, rules, key 0600, metrics"

# 2. Reload (SIGHUP).
ns systemctl reload synguard || fail "systemctl reload"
for _ in $(seq 1 50); do
  ns curl -sf --max-time 5 http://127.0.0.1:9815/metrics |
    grep -q '^synguard_config_reloads_total{result="success"} 1' && break
  sleep 0.1
done
ns curl -sf --max-time 5 http://127.0.0.1:9815/metrics |
  grep -q '^synguard_config_reloads_total{result="success"} 1' || fail "reload not counted"
[ "$(show MainPID)" = "$pid" ] || fail "reload restarted the daemon"
echo "reloaded in place"

# 3. Watchdog: a stopped daemon stops pinging; systemd aborts and restarts it.
ns kill -STOP "$pid"
for _ in $(seq 1 300); do
  [ "$(show NRestarts)" = 1 ] && [ "$(show ActiveState)" = active ] && break
  sleep 0.1
done
if [ "$(show NRestarts)" != 1 ] || [ "$(show ActiveState)" != active ]; then
  fail "not restarted by the watchdog (restarts $(show NRestarts), $(show ActiveState))"
fi
ns nft list table inet synguard >/dev/null 2>&1 || fail "no table after the watchdog restart"
echo "hung daemon restarted by the watchdog ($(show WatchdogUSec))"

# 4. nftables.service flushes the whole ruleset: PartOf= restarts synguard after it.
if ns systemctl cat nftables.service >/dev/null 2>&1; then
  pid=$(show MainPID)
  ns systemctl restart nftables.service || fail "systemctl restart nftables"
  # The propagated restart is a job of its own: wait for it.
  for _ in $(seq 1 100); do
    [ "$(show ActiveState)" = active ] && [ "$(show MainPID)" != "$pid" ] && break
    sleep 0.1
  done
  if [ "$(show ActiveState)" != active ] || [ "$(show MainPID)" = "$pid" ]; then
    fail "not restarted with nftables.service"
  fi
  ns nft list table inet synguard >/dev/null 2>&1 || fail "no table after nftables restarted"
  echo "restarted with nftables.service, table back"
fi

# 5. Stop: SIGTERM, exit 0 within TimeoutStopSec, rules removed.
t0=$(date +%s%N)
ns systemctl stop synguard || fail "systemctl stop"
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$(show Result)" = success ] || fail "stopped with result $(show Result)"
if ns nft list tables 2>/dev/null | grep synguard >/dev/null; then
  fail "table left after stop: $(ns nft list tables)"
fi
echo "stopped cleanly in $ms ms, no table left"
echo "PASS systemd live unit"
