"""The rendered benchmark runs on every variant and the pooled service has no errors.

Timing is not asserted here (machines differ); scripts/bench.py's exit code covers errors and connection counts.
"""

import pytest

from tests.rendering import run
from tests.variants import VARIANTS

# one variant also runs the service with JSON logs (--variant), at one level instead of two: no longer than the others
WITH_JSON_LOGS = "postgresql-default-pool"


@pytest.mark.parametrize(
    "name", [pytest.param(name, id=name, marks=pytest.mark.xdist_group(name)) for name in VARIANTS]
)
def test_bench_quick_run_completes_without_errors(render_variant, database_env, name: str) -> None:
    project = render_variant(name, VARIANTS[name])
    load = (
        ["--concurrency", "64", "--variant", "LOG_FORMAT=json"]
        if name == WITH_JSON_LOGS
        else ["--concurrency", "16,64"]
    )

    output = run(
        [str(project / ".venv/bin/python"), "-m", "scripts.bench", "--quick", *load],
        cwd=project,
        env=database_env(VARIANTS[name]),
    )

    assert "pooled service: 0 errors" in output, output
    assert "pooled/raw" in output
    assert "pooled/stock" in output
    assert "pooled/nullpool" in output
    if name == WITH_JSON_LOGS:
        assert "variant: the pooled service with LOG_FORMAT=json" in output, output
        assert "variant/pooled" in output, output
