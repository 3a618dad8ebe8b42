#!/usr/bin/env bash
# Installs everything synguard needs to build, test and run, from Debian 12's repositories.
# Idempotent; quick when everything is already there.
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang-format clang-tidy
  libpcap-dev libgtest-dev libgmock-dev googletest libbenchmark-dev
  tcpdump hping3 netsniff-ng ncat iproute2 iputils-ping nftables iptables python3 procps
  # The daemon: YAML configuration, metrics, NFQUEUE, nftables, capabilities, sd_notify.
  libyaml-cpp-dev prometheus-cpp-dev libnetfilter-queue-dev libmnl-dev libsystemd-dev
  libnftables-dev libcap-dev
  # The metrics tests (tests/monitoring, live_ops): the Prometheus server and promtool, curl.
  prometheus curl
  # The fuzz targets (scripts/fuzz.sh) need clang's libFuzzer; the plots need matplotlib.
  clang libclang-rt-14-dev python3-matplotlib
  # Wall-clock jumps under the live daemon (tests/integration/live_faults.sh clock).
  faketime conntrack
  # The XDP fast path: clang (above) compiles it for the BPF target, bpftool makes its
  # skeleton header, libbpf loads it (libelf and zlib are libbpf's own dependencies).
  libbpf-dev bpftool libelf-dev zlib1g-dev
  # The XDP lab (scripts/lab/netns.sh lab_peer_xdp) turns veth checksum offload off.
  ethtool
  # synguard tune: a Prometheus server's history over HTTP (libcurl), its JSON (nlohmann-json).
  libcurl4-openssl-dev nlohmann-json3-dev
  # The fleet (docs/OPERATIONS.md "Running a fleet"): proxied connections handed to the kernel's
  # conntrack (libnetfilter-conntrack) and replicated by conntrackd; stress-ng for busy-machine runs.
  libnetfilter-conntrack-dev conntrackd stress-ng
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
