"""The PgBouncer variant against a real PgBouncer in transaction pooling mode (tests/pgbouncer.py).

Its own suite runs through that PgBouncer in test_variants.py (test_render_own_test_suite_passes), which also
checks that the suite's transactions went through it."""

import json
from pathlib import Path

import pytest

from tests.pgbouncer import CONFIG, running_pgbouncer
from tests.rendering import run
from tests.variants import ALL

NAME = "pgbouncer-default-pool"  # shares its render with test_variants.py on the same worker
ANSWERS = ALL[NAME]
CONCURRENT_CLIENTS = 200
CONCURRENT_CLIENTS_SCRIPT = Path(__file__).with_name("concurrent_clients.py")

pytestmark = pytest.mark.xdist_group(NAME)

# The start-up sizing check behind PgBouncer, run in the render against a PgBouncer of this test's own: SCRAM
# passwords, max_client_conn 50, a stats user allowed to read the admin console and an ordinary user who is not
SIZING_CONFIG = {
    "auth_type = trust": "auth_type = scram-sha-256",
    "admin_users = postgres": "stats_users = watcher",
    "max_client_conn = 1000": "max_client_conn = 50",
}
SIZING_USERS = '"postgres" ""\n"watcher" "watcher-pw-1"\n"app" "app-pw-2"\n'
SIZING_SCRIPT = """
import asyncio, logging, os, sys
from sqlalchemy.ext.asyncio import create_async_engine
from {package}.db import check_pool_sizing
from {package}.settings import Settings

logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(levelname)s %(message)s")

async def main():
    for user in ("WATCHER", "APP"):
        url = os.environ[f"{{user}}_URL"]
        settings = Settings(_env_file=None, database_url=url, pgbouncer=True, pool_size=10, max_overflow=5, workers=4)
        engine = create_async_engine(url)
        print(user, "returned:", await check_pool_sizing(engine, settings))
        await engine.dispose()

asyncio.run(main())
"""


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


def test_sizing_check_behind_pgbouncer_reads_max_client_conn_or_says_why_not(render_variant, tmp_path: Path) -> None:
    project = render_variant(NAME, ANSWERS)
    package = next(path.parent.name for path in (project / "src").glob("*/main.py"))
    config = CONFIG
    for default, changed in SIZING_CONFIG.items():
        assert default in config
        config = config.replace(default, changed)

    with running_pgbouncer(tmp_path, config=config, userlist=SIZING_USERS) as port:
        output = run(
            [str(project / ".venv/bin/python"), "-c", SIZING_SCRIPT.format(package=package)],
            cwd=project,
            env={
                "WATCHER_URL": f"postgresql+asyncpg://watcher:watcher-pw-1@127.0.0.1:{port}/postgres",
                "APP_URL": f"postgresql+asyncpg://app:app-pw-2@127.0.0.1:{port}/postgres",
            },
        )

    # 1 x 4 x (10 + 5) = 60 client connections against max_client_conn 50: warned, with the arithmetic
    warning = (
        "pool sizing: 1 replica(s) x 4 worker(s) x (pool_size 10 + max_overflow 5) = 60 connections, "
        "but PgBouncer accepts max_client_conn 50"
    )
    assert f"WARNING {warning}" in output, output
    assert f"WATCHER returned: {warning}" in output, output
    # the console refuses an ordinary user: one line says so and how to allow it
    refused = "INFO pool sizing not checked behind PgBouncer: its admin console (database pgbouncer) did not answer user 'app'"
    assert refused in output, output
    assert "add that user to PgBouncer's stats_users" in output
    assert "APP returned: None" in output, output
    assert "pw-" not in output, output
