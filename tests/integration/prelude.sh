# shellcheck shell=bash
# shellcheck disable=SC2034  # what it sets is for the test that sources it
# The opening the live tests share, sourced first by a test in this directory:
#   source "$(dirname "$0")/prelude.sh" PREFIX
# Strict mode; `here` (this directory) and `lab` (scripts/lab); LAB_ID (PREFIX and the pid: the
# namespaces' names); the lab (scripts/lab/netns.sh) and lib.sh sourced; the lab's service PORT
# and MB.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
lab="$here/../../scripts/lab"
LAB_ID="${1:?usage: source prelude.sh LAB_ID_PREFIX}$$"
# shellcheck source=../../scripts/lab/netns.sh
source "$lab/netns.sh"
# shellcheck source=lib.sh
source "$here/lib.sh"
PORT=8080
MB=$((1024 * 1024))
