"""The PgBouncer variant against a real PgBouncer in transaction pooling mode (tests/pgbouncer.py)."""

import json
import subprocess
from pathlib import Path

import pytest

from tests.rendering import run
from tests.variants import ALL

NAME = "pgbouncer-default-pool"  # shares its render with test_variants.py on the same worker
ANSWERS = ALL[NAME]
CONCURRENT_CLIENTS = 200
CONCURRENT_CLIENTS_SCRIPT = Path(__file__).with_name("concurrent_clients.py")

pytestmark = pytest.mark.xdist_group(NAME)


def pgbouncer_transactions(port: int) -> str:
    """How many transactions PgBouncer has passed on so far, from its admin console (SHOW TOTALS)."""
    totals = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", "pgbouncer", "-At", "-c", "SHOW TOTALS"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    return dict(line.split("|") for line in totals.splitlines() if "|" in line)["total_xact_count"]


def test_pgbouncer_variant_suite_passes_through_pgbouncer(render_variant, database_env, pgbouncer_port: int) -> None:
    project = render_variant(NAME, ANSWERS)
    env = database_env(ANSWERS)
    assert f":{pgbouncer_port}/" in env["DATABASE_URL"]
    before = int(pgbouncer_transactions(pgbouncer_port))

    output = run(
        [str(project / ".venv/bin/python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project, env=env
    )

    assert " passed" in output, output
    assert " failed" not in output, output
    assert " error" not in output, output
    assert int(pgbouncer_transactions(pgbouncer_port)) - before >= 100  # the suite's queries went through PgBouncer


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
