#!/usr/bin/env bash
# Builds the .deb from a build directory, installs it with apt on this Debian 12 machine and
# checks what it installed; starts the installed unit under a systemd of its own
# (tests/systemd/live_unit.sh --installed); then upgrades it in place, removes it (the
# configuration stays) and purges it, checking that nothing is left. As root. Idempotent: a
# synguard package already installed is purged first, and a failed run purges what it
# installed.
#   scripts/test-deb.sh [BUILD_DIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"
export DEBIAN_FRONTEND=noninteractive
fail() {
  echo "FAIL test-deb: $*"
  exit 1
}
purge() { apt-get purge -y -qq synguard >/dev/null 2>&1; }
[ "$(id -u)" -eq 0 ] || fail "run as root (apt-get)"
[ -f "$build/CPackConfig.cmake" ] || fail "$build is not a configured build directory"
if dpkg -s synguard >/dev/null 2>&1; then
  purge || fail "could not purge the synguard package already installed"
fi
out=$(mktemp -d)
cleanup() {
  local rc=$?
  if [ "$rc" -ne 0 ] && dpkg -s synguard >/dev/null 2>&1; then
    purge || true
  fi
  rm -rf "$out"
}
trap cleanup EXIT

(cd "$build" && cpack -G DEB -B "$out" >"$out/cpack.log" 2>&1) || {
  cat "$out/cpack.log"
  fail "cpack"
}
deb=$(ls "$out"/synguard_*.deb)
echo "built $(basename "$deb") ($(du -h "$deb" | cut -f1))"
dpkg-deb -f "$deb" Depends Section | sed 's/^/  /'
dpkg-deb -f "$deb" Depends | grep -Eq '(^|, )libcurl4( |,|$)' ||
  fail "the package does not depend on libcurl4 (synguard tune --prometheus)"
for s in conffiles postinst prerm postrm; do
  dpkg-deb --ctrl-tarfile "$deb" | tar -t | grep -x "./$s" >/dev/null || fail "no $s in the package"
done

had_user=$(getent passwd synguard >/dev/null && echo yes || echo no)
apt-get install -y -qq "$deb" >"$out/apt.log" 2>&1 || {
  cat "$out/apt.log"
  fail "apt-get install"
}
for f in /usr/sbin/synguard /usr/lib/systemd/system/synguard.service \
  /usr/lib/sysusers.d/synguard.conf /etc/synguard/synguard.yaml \
  /usr/share/doc/synguard/OPERATIONS.md /usr/share/doc/synguard/monitoring/synguard-dashboard.json; do
  [ -e "$f" ] || fail "$f not installed"
done
getent passwd synguard >/dev/null || fail "the synguard user was not created"
[ "$had_user" = yes ] || echo "postinst created the synguard user"
grep -qx /etc/synguard/synguard.yaml /var/lib/dpkg/info/synguard.conffiles ||
  fail "the configuration is not a conffile"
synguard --version | grep "^synguard " >/dev/null || fail "synguard --version"
synguard check-config >/dev/null || fail "the installed configuration does not check"
out_v=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no \
  /usr/lib/systemd/system/synguard.service 2>&1) || fail "systemd-analyze verify: $out_v"
if echo "$out_v" | grep synguard >/dev/null; then
  fail "systemd-analyze verify: $out_v"
fi
echo "installed: $(synguard --version), user $(getent passwd synguard | cut -d: -f1,3,6,7)"

# The installed unit, started by a systemd in its own namespaces (skipped, 77, on hosts that
# run systemd themselves).
rc=0
bash "$root/tests/systemd/live_unit.sh" --installed | sed 's/^/  /' || rc=${PIPESTATUS[0]}
[ "$rc" -eq 0 ] || [ "$rc" -eq 77 ] || fail "the installed unit does not run"

# Enabled (offline: symlinks only), the package upgraded in place keeps it enabled.
systemctl enable synguard.service >/dev/null 2>&1 || fail "systemctl enable"
apt-get install --reinstall -y -qq "$deb" >"$out/apt.log" 2>&1 || {
  cat "$out/apt.log"
  fail "apt-get install --reinstall"
}
[ "$(systemctl is-enabled synguard.service)" = enabled ] || fail "not enabled after an upgrade"

# Removed: the configuration stays, the unit is gone.
apt-get remove -y -qq synguard >/dev/null 2>&1 || fail "apt-get remove"
[ -f /etc/synguard/synguard.yaml ] || fail "remove deleted the configuration"
for f in /usr/sbin/synguard /usr/lib/systemd/system/synguard.service; do
  [ ! -e "$f" ] || fail "$f left after remove"
done

# Purged: nothing left but the system user (Debian keeps those).
purge || fail "apt-get purge"
left=$(find /usr/sbin/synguard /usr/lib/systemd/system/synguard.service \
  /usr/lib/sysusers.d/synguard.conf /usr/share/doc/synguard /etc/synguard /var/lib/synguard \
  /etc/systemd/system -name '*synguard*' 2>/dev/null || true)
[ -z "$left" ] || fail "left after purge: $left"
! dpkg -s synguard >/dev/null 2>&1 || fail "still known to dpkg after purge"
echo "PASS test-deb: installed, run, upgraded, removed and purged"
