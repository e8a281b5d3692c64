"""The PgBouncer variant against a real PgBouncer in transaction pooling mode (tests/pgbouncer.py).

Its own suite runs through that PgBouncer in test_variants.py (test_render_own_test_suite_passes), which also
checks that the suite's transactions went through it."""

import json
from pathlib import Path

import pytest

from tests.rendering import run
from tests.variants import ALL

NAME = "pgbouncer-default-pool"  # shares its render with test_variants.py on the same worker
ANSWERS = ALL[NAME]
CONCURRENT_CLIENTS = 200
CONCURRENT_CLIENTS_SCRIPT = Path(__file__).with_name("concurrent_clients.py")

pytestmark = pytest.mark.xdist_group(NAME)


def test_pgbouncer_variant_serves_200_concurrent_clients_without_errors(
    render_variant, database_env, pgbouncer_port: int
) -> None:
    project = render_variant(NAME, ANSWERS)
    package = next(path.parent.name for path in (project / "src").glob("*/main.py"))

    output = run(
        [str(project / ".venv/bin/python"), str(CONCURRENT_CLIENTS_SCRIPT), package, str(CONCURRENT_CLIENTS), "3"],
        cwd=project,
        env=database_env(ANSWERS),
    )

    report = json.loads(output.strip().splitlines()[-1])
    assert report["errors"] == []
    assert set(report["statuses"]) <= {"200", "201"}, report["statuses"]
    assert sum(report["statuses"].values()) == CONCURRENT_CLIENTS * 3 * 4
