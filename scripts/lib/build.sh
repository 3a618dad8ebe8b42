# shellcheck shell=bash
# How the scripts configure and build a tree, written once. Sourced by scripts that have gone to
# the repository's root (every path here is relative to it).

# configure_tree DIR TYPE [cmake options...]: configures the repository into DIR with
# CMAKE_BUILD_TYPE=TYPE and the options. cmake's report is hidden, its errors are not; its status
# is returned (a failure stops a script under set -e).
configure_tree() {
  local dir="$1" type="$2"
  shift 2
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$type" "$@" >/dev/null
}

# build_tree DIR [cmake --build options...]: builds the configured DIR on every CPU (e.g.
# `--target synguard` for one target).
build_tree() {
  local dir="$1"
  shift
  cmake --build "$dir" -j "$(nproc)" "$@"
}
