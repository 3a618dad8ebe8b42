#!/usr/bin/env bash
# Installs everything synguard needs to build, test and run, from Debian 12's repositories.
# Idempotent; quick when everything is already there.
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang-format
  libpcap-dev libgtest-dev libgmock-dev googletest libbenchmark-dev
  tcpdump hping3 netsniff-ng ncat iproute2 iputils-ping nftables iptables python3 procps
  # The daemon (NFQUEUE, nftables, capabilities, sd_notify) and later milestones:
  libyaml-cpp-dev prometheus-cpp-dev libnetfilter-queue-dev libmnl-dev libsystemd-dev
  libnftables-dev libcap-dev
  # Operations (issue #5): the Prometheus server and promtool for the metrics tests, curl.
  prometheus curl
  # Proof (issue #6): libFuzzer targets are built with clang.
  clang libclang-rt-14-dev python3-matplotlib
  # Wall-clock jumps under the live daemon (tests/integration/live_faults.sh clock).
  faketime conntrack
)

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: run as root (apt-get install)" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep "install ok installed" >/dev/null; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "install-deps: all dependencies present"
