"""Several workers, each with its own pool: the server sees at most workers x (pool_size + max_overflow).

These talk to PostgreSQL directly even in the PgBouncer variant: behind PgBouncer, PgBouncer decides the number of
server connections, and the sizing check counts against PgBouncer's max_client_conn instead (the template's
tests/test_pgbouncer.py starts PgBouncers of its own for that).
"""

import asyncio
import logging
from pathlib import Path
from uuid import uuid4

import httpx
import pytest

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.settings import Settings

from tests.live_server import request, run_server
from tests.loop_errors import recorded_loop_errors
from tests.postgres_admin import admin_connect, direct_url
from tests.sizing_checks import check_counts_every_replicas_workers, check_silent_when_pools_fit, start_up_warning

LOAD_SECONDS = 3
SHUTDOWN_POINTS = 60  # loop iterations after start-up at which the app is shut down, 0 to 59
CLIENTS = 64
SIZING_POLLS = 300  # tenths of a second the workers' sizing checks may take to be logged (a hang guard)


async def server_limits() -> tuple[int, int]:
    connection = await admin_connect()
    try:
        max_connections = int(await connection.fetchval("SHOW max_connections"))
        reserved = int(await connection.fetchval("SHOW superuser_reserved_connections"))
    finally:
        await connection.close()
    return max_connections, reserved


async def load_with_peak(url: str, application_name: str) -> tuple[list[int], int]:
    """GET /items from CLIENTS concurrent clients for LOAD_SECONDS; the statuses and the peak number of server
    connections with this application_name seen meanwhile."""
    monitor = await admin_connect()
    peak = 0
    statuses: list[int] = []
    deadline = asyncio.get_running_loop().time() + LOAD_SECONDS

    async def sample() -> None:
        nonlocal peak
        query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1"
        while True:
            peak = max(peak, await monitor.fetchval(query, application_name))
            await asyncio.sleep(0.05)

    async def client(http: httpx.AsyncClient) -> None:
        while asyncio.get_running_loop().time() < deadline:
            statuses.append((await http.get(url)).status_code)

    sampler = asyncio.create_task(sample())
    try:
        # a new connection per request: the workers keep accepting, so the load reaches both of them
        limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=0)
        async with httpx.AsyncClient(limits=limits, timeout=30) as http:
            await asyncio.gather(*(client(http) for _ in range(CLIENTS)))
    finally:
        sampler.cancel()
        await asyncio.gather(sampler, return_exceptions=True)
        await monitor.close()
    return statuses, peak


async def test_two_workers_hold_at_most_twice_their_pool(database_url: str, tmp_path: Path) -> None:
    application_name = f"workers_{uuid4().hex[:8]}"
    pool_size, max_overflow = 2, 1
    env = {
        "DATABASE_URL": direct_url(database_url),
        "PGBOUNCER": "false",
        "APPLICATION_NAME": application_name,
        "POOL_SIZE": str(pool_size),
        "MAX_OVERFLOW": str(max_overflow),
        "WEB_CONCURRENCY": "2",
    }
    with run_server(env, str(tmp_path / "server.log"), extra_args=("--workers", "2")) as server:
        statuses, peak = await load_with_peak(f"{server.base_url}/items", application_name)

    per_worker = pool_size + max_overflow
    assert set(statuses) == {200}
    assert per_worker < peak <= 2 * per_worker, f"peak {peak} server connections"
    assert server.output().count("Application startup complete") == 2


async def test_serve_starts_workers_processes_and_the_sizing_check_counts_them(
    database_url: str, tmp_path: Path
) -> None:
    max_connections, reserved = await server_limits()
    available = max_connections - reserved
    per_worker = available // 2 + 1  # one such pool fits the server, two do not: the warning shows which was counted
    env = {
        "DATABASE_URL": direct_url(database_url),
        "PGBOUNCER": "false",
        "POOL_SIZE": str(per_worker),
        "MAX_OVERFLOW": "0",
        "WORKERS": "2",
    }
    with run_server(env, str(tmp_path / "server.log"), serve=True) as server:
        assert request(f"{server.base_url}/items").json() == {"number": 1}
        output = server.output()
        for _ in range(SIZING_POLLS):  # each worker logs its check once the database answered
            if output.count("pool sizing:") >= 2 or server.process.poll() is not None:
                break
            await asyncio.sleep(0.1)
            output = server.output()

    assert output.count("Application startup complete") == 2
    assert output.count(f"pool sizing: 1 replica(s) x 2 worker(s) x (pool_size {per_worker} + max_overflow 0)") == 2


async def sizing_check(database_url: str, **pool: int) -> str | None:
    """Start and stop the app with these pool settings on the server directly; the start-up sizing check's warning."""
    return await start_up_warning(direct_url(database_url), pgbouncer=False, **pool)


async def test_sizing_warning_shows_the_arithmetic_when_pools_are_oversized(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    max_connections, reserved = await server_limits()
    pool_size = max_connections  # with max_overflow 5 and 2 workers this can never fit

    with caplog.at_level(logging.WARNING):
        warning = await sizing_check(database_url, pool_size=pool_size, max_overflow=5, workers=2)

    needed = 2 * (pool_size + 5)
    expected = (
        f"1 replica(s) x 2 worker(s) x (pool_size {pool_size} + max_overflow 5) = {needed} connections, but the server offers "
        f"max_connections {max_connections} - superuser_reserved_connections {reserved} = {max_connections - reserved}"
    )
    assert warning is not None
    assert expected in warning
    assert expected in caplog.text


async def test_sizing_check_counts_every_replicas_workers(database_url: str) -> None:
    max_connections, reserved = await server_limits()
    await check_counts_every_replicas_workers(database_url, max_connections - reserved, sizing_check)


async def test_sizing_check_is_silent_when_pools_fit(database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    await check_silent_when_pools_fit(database_url, caplog, sizing_check)


async def test_sizing_check_behind_pgbouncer_says_when_it_cannot_read_the_console(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """PGBOUNCER=true, but no PgBouncer console answers (here: PostgreSQL itself, which has no database pgbouncer).
    A real PgBouncer's console, read or refused: the template's tests/test_pgbouncer.py."""
    url = direct_url(database_url)
    settings = Settings(_env_file=None, database_url=url, pgbouncer=True, pool_size=1000, workers=8)
    app = create_app(settings)

    with caplog.at_level(logging.INFO):
        async with app.router.lifespan_context(app):
            warning = await app.state.pool_sizing_check

    assert warning is None
    assert "pool sizing not checked behind PgBouncer: its admin console (database pgbouncer)" in caplog.text
    assert "stats_users" in caplog.text


def test_workers_setting_reads_web_concurrency(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    assert Settings(_env_file=None).workers == 3
    monkeypatch.setenv("WORKERS", "4")
    assert Settings(_env_file=None).workers == 4


async def test_start_up_survives_an_unreachable_database_during_the_sizing_check() -> None:
    unreachable = "postgresql+asyncpg://postgres@127.0.0.1:1/nothing"
    app = create_app(Settings(_env_file=None, database_url=unreachable, workers=8))

    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        warning = await app.state.pool_sizing_check
        live = await client.get("/health/live")

    assert warning is None
    assert live.status_code == 200


async def test_shutting_down_while_the_sizing_check_connects_leaves_no_error_behind(database_url: str) -> None:
    """Shut the app down after 0, 1, 2, ... loop iterations, so that one of the shutdowns comes while the sizing
    check is opening its connection; none may leave an error for the event loop to report later."""
    settings = Settings(_env_file=None, database_url=direct_url(database_url), pgbouncer=False)
    unfinished = 0
    with recorded_loop_errors() as errors:
        for point in range(SHUTDOWN_POINTS):
            app = create_app(settings)
            async with app.router.lifespan_context(app):
                for _ in range(point):
                    await asyncio.sleep(0)
                unfinished += not app.state.pool_sizing_check.done()
        logged = errors.collected()

    # a busy machine may let the check finish within a few iterations: those shutdowns prove nothing, the rest do
    ended = SHUTDOWN_POINTS - unfinished
    assert unfinished > 1, f"the sizing check ended before {ended} of {SHUTDOWN_POINTS} shutdowns"
    assert logged == []
