"""MySQL and MariaDB specifics on the shared server: utf8mb4 text, strict SQL mode, the start-up sizing and
wait_timeout check, connections the server ended (KILL, wait_timeout), and replicas migrating together.

Each test has a database of its own; the app's server connections are the ones using it (processlist.db).
"""

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import insert, make_url, select
from sqlalchemy.exc import DBAPIError

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.models import TITLE_MAX, Note
from {{ cookiecutter.package_name }}.settings import Settings

from tests.mysql_admin import admin_fetch, admin_kill, connect, connection_ids, fetch
from tests.replicas import VERSION_TABLE, check_migrations_ran_once, finished, released_replicas, replica_program
from tests.sizing_checks import check_counts_every_replicas_workers, check_silent_when_pools_fit, start_up_warning

SERVER_GONE_SECONDS = 30  # how long the server may take to end an idle connection (a hang guard, not a measure)


def database_name(url: str) -> str:
    return str(make_url(url).database)


@pytest.fixture
async def pooled_app(database_url: str) -> AsyncIterator[FastAPI]:
    """The app with a pool of 3 and pre-ping on (whatever this project's answers were)."""
    settings = Settings(_env_file=None, database_url=database_url, pool_size=3, max_overflow=0, pool_pre_ping=True)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


async def fill_the_pool(client: AsyncClient, connections: int) -> None:
    """Concurrent requests, so that the pool opens several connections."""
    replies = await asyncio.gather(*(client.get("/items") for _ in range(4 * connections)))
    assert {reply.status_code for reply in replies} == {200}


# --- text and SQL mode -------------------------------------------------------------------------------------


async def test_four_byte_characters_round_trip_exactly(client: AsyncClient, database_url: str) -> None:
    # emoji, a musical symbol and a CJK extension B character are four bytes in UTF-8: MySQL's "utf8" refuses them
    title = "Groceries 🛒 𝄞 𠜎 naïve ✓"
    body = "🎉" * 50 + " family: 👩\u200d👩\u200d👧"
    created = await client.post("/notes", json={"title": title, "body": body})
    assert created.status_code == 201, created.text
    note_id = created.json()["id"]
    read = await client.get(f"/notes/{note_id}")
    listed = await client.get("/notes")
    stored = await fetch(
        database_url,
        "SELECT title, CHAR_LENGTH(title), LENGTH(title) FROM notes WHERE id = %s",
        note_id,
    )

    assert read.status_code == 200
    assert read.json()["title"] == title
    assert read.json()["body"] == body
    assert [note["title"] for note in listed.json()] == [title]
    assert stored == [(title, len(title), len(title.encode()))]


async def test_strict_mode_refuses_a_too_long_value_instead_of_truncating_it(app: FastAPI, database_url: str) -> None:
    too_long = "x" * (TITLE_MAX + 1)
    engine = app.state.engine
    with pytest.raises(DBAPIError, match="Data too long"):
        async with engine.begin() as connection:
            await connection.execute(insert(Note).values(title=too_long))
    async with engine.connect() as connection:
        rows = (await connection.execute(select(Note.title))).all()

    # the contrast: a session without a strict mode stores the row cut to the column's length
    lax = await connect(database_url)
    try:
        async with lax.cursor() as cursor:
            await cursor.execute("SET SESSION sql_mode = ''")
            await cursor.execute("INSERT INTO notes (title, body) VALUES (%s, '')", (too_long,))
            await cursor.execute("SELECT CHAR_LENGTH(title) FROM notes")
            lax_lengths = [row[0] for row in await cursor.fetchall()]
    finally:
        await lax.ensure_closed()

    assert rows == []
    assert lax_lengths == [TITLE_MAX]


# --- the start-up check ------------------------------------------------------------------------------------


async def server_setting(name: str) -> int:
    """The value a new connection of this driver gets (wait_timeout differs for clients that say "interactive")."""
    rows = await admin_fetch(f"SELECT @@{name}")
    return int(rows[0][0])  # type: ignore[call-overload]


async def sizing_check(database_url: str, **pool: object) -> str | None:
    """Start and stop the app with these pool settings; the start-up check's warning. Pre-ping is on unless given
    (this project's answers may have turned it off), so that only the sizing is checked."""
    return await start_up_warning(database_url, **{"pool_pre_ping": True, **pool})


async def test_sizing_warning_shows_the_arithmetic_against_max_connections(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    max_connections = await server_setting("max_connections")
    pool_size = max_connections  # with max_overflow 5 and 2 workers this can never fit

    with caplog.at_level(logging.WARNING):
        warning = await sizing_check(database_url, pool_size=pool_size, max_overflow=5, workers=2)

    expected = (
        f"1 replica(s) x 2 worker(s) x (pool_size {pool_size} + max_overflow 5) = {2 * (pool_size + 5)} "
        f"connections, but the server's max_connections is {max_connections}"
    )
    assert warning is not None
    assert expected in warning
    assert expected in caplog.text
    assert "pool recycling" not in warning


async def test_sizing_check_counts_every_replicas_workers(database_url: str) -> None:
    await check_counts_every_replicas_workers(database_url, await server_setting("max_connections"), sizing_check)


async def test_sizing_check_is_silent_when_pools_fit(database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    await check_silent_when_pools_fit(database_url, caplog, sizing_check)

    assert "pool recycling" not in caplog.text


@pytest.mark.parametrize(
    ("recycle", "pre_ping", "warns"),
    [
        ("never", False, True),  # POOL_RECYCLE=-1: kept forever
        ("wait_timeout", False, True),  # the server has closed it by then
        ("just_below", False, False),
        ("never", True, False),  # the ping finds the closed connection and replaces it
    ],
)
async def test_recycle_check_warns_when_the_server_closes_idle_connections_first(
    database_url: str, recycle: str, pre_ping: bool, warns: bool
) -> None:
    wait_timeout = await server_setting("wait_timeout")
    pool_recycle = {"never": -1, "wait_timeout": wait_timeout, "just_below": wait_timeout - 1}[recycle]

    warning = await sizing_check(database_url, pool_recycle=pool_recycle, pool_pre_ping=pre_ping)

    if warns:
        assert warning is not None
        assert f"wait_timeout {wait_timeout} s" in warning
        assert f"POOL_RECYCLE={pool_recycle}" in warning
        assert "pool sizing" not in warning
    else:
        assert warning is None


# --- connections the server ended --------------------------------------------------------------------------


async def test_killed_connections_are_replaced_by_the_ping(pooled_app: FastAPI, database_url: str) -> None:
    name = database_name(database_url)
    async with AsyncClient(transport=ASGITransport(app=pooled_app), base_url="http://t") as client:
        await fill_the_pool(client, 3)
        killed = await connection_ids(name)
        for connection_id in killed:
            await admin_kill(connection_id)
        sequential = [(await client.get("/items")).status_code for _ in range(3)]
        concurrent = await asyncio.gather(*(client.get("/items") for _ in range(12)))
        now = await connection_ids(name)

    print(f"killed {len(killed)} pooled connection(s); afterwards {len(now)} new, every request answered 200")
    assert len(killed) >= 2
    assert sequential == [200] * 3
    assert [reply.status_code for reply in concurrent] == [200] * 12
    assert now
    assert not set(killed) & set(now)
    assert pooled_app.state.engine.pool.checkedout() == 0


def with_wait_timeout(database_url: str, seconds: int) -> str:
    """The URL with a session wait_timeout for every connection (asyncmy's init_command, from the URL's query), so
    that only these connections time out: SET GLOBAL would end other sessions' connections on the shared server."""
    url = make_url(database_url).update_query_dict({"init_command": f"SET SESSION wait_timeout={seconds}"})
    return url.render_as_string(hide_password=False)


async def wait_until_gone(name: str, ids: list[int]) -> None:
    for _ in range(SERVER_GONE_SECONDS * 10):
        if not set(ids) & set(await connection_ids(name)):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the server kept connections {ids} past their wait_timeout for {SERVER_GONE_SECONDS} s")


@pytest.mark.parametrize("pre_ping", [True, False])
async def test_a_connection_idle_past_wait_timeout(database_url: str, pre_ping: bool) -> None:
    name = database_name(database_url)
    settings = Settings(
        _env_file=None,
        database_url=with_wait_timeout(database_url, 1),
        pool_size=1,
        max_overflow=0,
        pool_pre_ping=pre_ping,
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client,
    ):
        first = await client.get("/items")
        async with app.state.engine.connect() as connection:  # the pool's only connection, the one /items used
            pooled = (await connection.exec_driver_sql("SELECT CONNECTION_ID(), @@SESSION.wait_timeout")).one()
        listed = await connection_ids(name)
        await wait_until_gone(name, [pooled[0]])
        after = [await client.get("/items") for _ in range(2)]
    others = await fetch(database_url, "SELECT @@SESSION.wait_timeout")

    print(f"pre_ping={pre_ping}: after wait_timeout {[reply.status_code for reply in after]}")
    assert first.status_code == 200
    assert pooled[1] == 1
    assert pooled[0] in listed
    assert others[0][0] != 1  # a connection without the init_command keeps the server's value
    if pre_ping:
        assert [reply.status_code for reply in after] == [200, 200]
    else:  # the contrast: without the ping, the request that meets the closed connection fails (then it is replaced)
        assert [reply.status_code for reply in after] == [503, 200]
        assert after[0].headers["retry-after"] == "1"


# --- replicas migrating together ---------------------------------------------------------------------------

# Each replica loads alembic, the driver and the project, says so, then waits for the go
REPLICA = replica_program(
    "alembic.command",
    "asyncmy",
    "sqlalchemy.ext.asyncio",
    "{{ cookiecutter.package_name }}.models",
    "{{ cookiecutter.package_name }}.mysql",
    "{{ cookiecutter.package_name }}.settings",
)
# what a replica does while the gate is closed: waits for the version table (the replica holding the migration lock,
# or, without a lock, every replica) or for the migration lock (the others)
WAITING = ("Waiting for table metadata lock", "User lock")
GATE_SECONDS = 120  # how long the replicas may take to reach the gate (a hang guard on a busy machine)


async def replicas_at_the_gate(name: str, replicas: list[asyncio.subprocess.Process]) -> int:
    """Waits until every replica waits at the gate (or one has ended); how many were waiting."""
    waiting: list[object] = []
    for _ in range(GATE_SECONDS * 10):
        rows = await admin_fetch("SELECT state FROM information_schema.processlist WHERE db = %s", name)
        waiting = [state for (state,) in rows if state in WAITING]
        if len(waiting) == len(replicas) or any(process.returncode is not None for process in replicas):
            break
        await asyncio.sleep(0.1)
    return len(waiting)


async def test_concurrent_upgrades_apply_each_migration_once(empty_database_url: str) -> None:
    """Replicas that start together, as a deployment starts them. So that they meet however busy the machine is, the
    test closes a gate first: an empty version table it holds a write lock on, opened once all of them wait there."""
    name = database_name(empty_database_url)
    gate = await connect(empty_database_url)
    try:
        async with gate.cursor() as cursor:
            await cursor.execute(VERSION_TABLE)
            await cursor.execute("LOCK TABLES alembic_version WRITE")
        replicas = await released_replicas(REPLICA, empty_database_url)
        waiting = await replicas_at_the_gate(name, replicas)
        async with gate.cursor() as cursor:
            await cursor.execute("UNLOCK TABLES")
    finally:
        await gate.ensure_closed()
    results = await finished(replicas)

    versions = await fetch(empty_database_url, "SELECT version_num FROM alembic_version")
    check_migrations_ran_once(results, versions)
    assert waiting == len(replicas)
