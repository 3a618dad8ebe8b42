#!/usr/bin/env bash
# The attacks of docs/RELIABILITY.md, live: crafted from the attacker's (or client's) side of a namespace
# lab, through the gateway running `synguard run` from a YAML config, to a server with
# tcp_syncookies=0 and a small SYN backlog. The server's namespace counts what arrives.
#   live_attacks.sh SYNGUARD PART
# Each PART lives in attacks/PART.sh (sourced here after the lab is up); its header says what
# it sends and what it asserts.
set -euo pipefail
synguard="${1:?usage: live_attacks.sh SYNGUARD_BINARY PART}"
part="${2:?usage: live_attacks.sh SYNGUARD_BINARY PART}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
LAB_ID="sga$$"
# shellcheck source=../../scripts/lab/netns.sh
source "$root/scripts/lab/netns.sh"
# shellcheck source=lib.sh
source "$here/lib.sh"
PORT=8080
[ -f "$here/attacks/$part.sh" ] || { echo "FAIL unknown part $part"; exit 1; }

lab_up
# shellcheck disable=SC1090
source "$here/attacks/$part.sh"
echo "PASS live_attacks $part"
