#!/usr/bin/env bash
# Builds the .deb from a build directory, installs it with apt on this Debian 12 machine,
# checks what it installed, then purges it and checks it is gone. As root.
#   scripts/test-deb.sh [BUILD_DIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"
fail() {
  echo "FAIL test-deb: $*"
  exit 1
}
[ "$(id -u)" -eq 0 ] || fail "run as root (apt-get)"
if dpkg -s synguard >/dev/null 2>&1; then
  apt-get purge -y -qq synguard >/dev/null
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
(cd "$build" && cpack -G DEB -B "$out" >/dev/null) || fail "cpack"
deb=$(ls "$out"/synguard_*.deb)
echo "built $(basename "$deb") ($(du -h "$deb" | cut -f1))"
dpkg-deb -I "$deb" | grep -E "Depends|Section" | sed 's/^ */  /'
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" >/dev/null || fail "apt-get install"
for f in /usr/sbin/synguard /usr/lib/systemd/system/synguard.service \
  /usr/lib/sysusers.d/synguard.conf /etc/synguard/synguard.yaml \
  /usr/share/doc/synguard/OPERATIONS.md /usr/share/doc/synguard/monitoring/synguard-dashboard.json; do
  [ -e "$f" ] || fail "$f not installed"
done
getent passwd synguard >/dev/null || fail "the synguard user was not created"
grep -qx /etc/synguard/synguard.yaml /var/lib/dpkg/info/synguard.conffiles ||
  fail "the configuration is not a conffile"
synguard --version | grep -q "^synguard " || fail "synguard --version"
synguard check-config >/dev/null || fail "the installed configuration does not check"
out_v=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no \
  /usr/lib/systemd/system/synguard.service 2>&1) || fail "systemd-analyze verify: $out_v"
if echo "$out_v" | grep -q synguard; then
  fail "systemd-analyze verify: $out_v"
fi
echo "installed: $(synguard --version), user $(getent passwd synguard | cut -d: -f1,3,6,7)"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq synguard >/dev/null || fail "apt-get purge"
for f in /usr/sbin/synguard /usr/lib/systemd/system/synguard.service /etc/synguard/synguard.yaml; do
  [ ! -e "$f" ] || fail "$f left after purge"
done
echo "PASS test-deb: installed, checked and purged"
