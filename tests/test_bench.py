"""The rendered benchmark runs on every database choice and the service has no errors.

Timing is not asserted here (machines differ); scripts/bench.py's exit code covers errors and connection counts.
One variant per database choice (the default pool): the pool answers change nothing the benchmark checks, and
each run starts a dozen servers. PostgreSQL's runs its servers with two workers each, so that --workers is covered.
"""

import pytest

from tests.rendering import run
from tests.variants import VARIANTS

BENCH_VARIANTS = [name for name in VARIANTS if name.endswith("-default-pool")]
WORKERS = {"postgresql-default-pool": "2"}


@pytest.mark.parametrize(
    "name", [pytest.param(name, id=name, marks=pytest.mark.xdist_group(name)) for name in BENCH_VARIANTS]
)
def test_bench_quick_run_completes_without_errors(render_variant, database_env, name: str) -> None:
    project = render_variant(name, VARIANTS[name])
    workers = WORKERS.get(name, "1")

    output = run(
        [str(project / ".venv/bin/python"), "-m", "scripts.bench", "--quick", "--workers", workers],
        cwd=project,
        env=database_env(VARIANTS[name]),
    )

    assert "service: 0 errors" in output, output
    assert f"ladder: 64 clients, {workers} worker(s) per server" in output, output
    for row in ("raw", "pool_driver", "read_path", "core", "bare", "service", "stock", "nullpool"):
        assert f"\n{row} " in output, output
    assert "read_path/raw" in output
    assert "service/bare" in output
    assert f"open loop: fixed rates, latency from each request's due time, {workers} worker(s)" in output, output
    assert "while the open-loop client sent 1.3x its closed-loop rate" in output, output
    for target in ("service", "stock", "raw"):
        assert f"  90% {target} " in output, output
    assert "p99 at 90% load: service" in output, output
