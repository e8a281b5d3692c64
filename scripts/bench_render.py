"""Render time and smoke-test time per database, with a warm package cache (a benchmark, not a test).

    python scripts/bench_render.py [--runs 3] [--database sqlite --database postgresql]

For each database: one warm-up render (fills uv's cache, not counted), then per run
  - a render with TEMPLATE_SKIP_SMOKE=1: cookiecutter, pre-gen checks, files, pruning;
  - a full render: the same plus the post-gen hook's .venv (uv, offline first) and the smoke test, whose
    step times the hook prints ("; .venv 0.8 s, smoke test 3.1 s").
Prints the median of each column and the load average, since other work on the machine skews the figures.
PostgreSQL needs the server at ADMIN_DATABASE_URL (default postgres@127.0.0.1:5432).
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1]
STEP_TIMES = re.compile(r"passed \((?P<database>\w+); \.venv (?P<venv>[\d.]+) s, smoke test (?P<smoke>[\d.]+) s\)")
TARGET_SECONDS = 5.0


def render(output_dir: Path, database: str, env: dict[str, str]) -> tuple[float, str]:
    command = [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(output_dir), str(TEMPLATE)]
    started = time.monotonic()
    result = subprocess.run(
        [*command, f"database={database}"],
        env={**os.environ, "TEMPLATE_STRICT": "1", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"rendering {database} failed:\n{result.stdout}")
    return seconds, result.stdout


def measure(database: str, runs: int, scratch: Path) -> dict[str, float]:
    render(scratch / "warm-up", database, {})  # fills uv's cache with this variant's dependencies
    columns: dict[str, list[float]] = {"render": [], ".venv": [], "smoke": [], "total": []}
    for run in range(runs):
        render_only, _ = render(scratch / f"render-{run}", database, {"TEMPLATE_SKIP_SMOKE": "1"})
        total, output = render(scratch / f"full-{run}", database, {})
        steps = STEP_TIMES.search(output)
        if steps is None:
            raise SystemExit(f"no step times in the hook's output:\n{output}")
        columns["render"].append(render_only)
        columns[".venv"].append(float(steps["venv"]))
        columns["smoke"].append(float(steps["smoke"]))
        columns["total"].append(total)
    return {name: statistics.median(values) for name, values in columns.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database", action="append", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    databases = args.database or ["sqlite", "postgresql"]
    with tempfile.TemporaryDirectory(prefix="bench-render-") as folder:
        results = {database: measure(database, args.runs, Path(folder) / database) for database in databases}
    load = f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    print(f"median of {args.runs} run(s), warm uv cache, {load}")
    header = "".join(f"{name:>10}" for name in ("render s", ".venv s", "smoke s", "total s"))
    print(f"{'database':<12}{header}  target <= {TARGET_SECONDS:g} s")
    for database, row in results.items():
        verdict = "ok" if row["total"] <= TARGET_SECONDS else "over"
        cells = "".join(f"{row[name]:>10.2f}" for name in ("render", ".venv", "smoke", "total"))
        print(f"{database:<12}{cells}  {verdict}")
    print("render: cookiecutter with TEMPLATE_SKIP_SMOKE=1; total: a full render, .venv and smoke test included")
    return 0


if __name__ == "__main__":
    sys.exit(main())
