"""The one-round-trip pre-ping (BEGIN at checkout) keeps what pre-ping promises and what a transaction promises."""

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from uuid import uuid4

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.settings import Settings

from tests.postgres_admin import admin_fetch, direct_url


@pytest.fixture
async def direct_app(database_url: str) -> AsyncIterator[FastAPI]:
    """One pooled connection straight to PostgreSQL (not through a pooler), with a name to find it by."""
    settings = Settings(
        _env_file=None,
        database_url=direct_url(database_url),
        pgbouncer=False,
        pool_size=1,
        max_overflow=0,
        pool_pre_ping=True,
        application_name=f"ping_{uuid4().hex[:8]}",
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


async def server_states(app: FastAPI) -> list[str]:
    rows = await admin_fetch(
        "SELECT state FROM pg_stat_activity WHERE application_name = $1", app.state.settings.application_name
    )
    return [row["state"] for row in rows]


async def get_after_terminating_the_app_connections(app: FastAPI, path: str) -> tuple[list[bool], Response]:
    """GET path once (a pooled connection is opened), terminate the app's server connections, GET path again:
    whether each termination took, and the second answer."""
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client:
        assert (await client.get(path)).status_code == 200
        terminated = await admin_fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            app.state.settings.application_name,
        )
        return [row[0] for row in terminated], await client.get(path)


async def test_ping_replaces_a_connection_the_server_terminated(direct_app: FastAPI) -> None:
    terminated, response = await get_after_terminating_the_app_connections(direct_app, "/items")

    assert terminated == [True]
    assert response.status_code == 200
    assert response.json() == {"number": 1}


async def test_ping_leaves_no_transaction_open_after_a_request(direct_app: FastAPI) -> None:
    async with AsyncClient(transport=ASGITransport(app=direct_app), base_url="http://t") as client:
        assert (await client.get("/items")).status_code == 200
        async with direct_app.state.engine.connect():  # checked out and returned without a statement
            pass

    assert await server_states(direct_app) == ["idle"]
    assert direct_app.state.engine.pool.checkedout() == 0


async def test_ping_keeps_read_only_transactions_read_only(direct_app: FastAPI) -> None:
    async with direct_app.state.engine.connect():  # opened now, so the next checkout is pinged (a fresh one is not)
        pass
    async with direct_app.state.sessionmaker() as session:
        connection = await session.connection(execution_options={"postgresql_readonly": True})
        read_only = (await connection.execute(text("SHOW transaction_read_only"))).scalar_one()
        with pytest.raises(DBAPIError, match="read-only transaction"):
            await connection.execute(text("CREATE TABLE never_made (id int)"))

    assert read_only == "on"
    async with direct_app.state.sessionmaker() as session:  # the next checkout is read-write again
        assert (await session.execute(text("SHOW transaction_read_only"))).scalar_one() == "off"


async def test_read_path_runs_without_a_transaction_and_leaves_the_next_checkout_transactional(
    direct_app: FastAPI,
) -> None:
    in_transaction: list[bool] = []  # after each statement: was the driver's connection inside a transaction?

    def record(connection: Any, *_: Any) -> None:
        in_transaction.append(connection.connection.driver_connection.is_in_transaction())

    event.listen(direct_app.state.engine.sync_engine, "after_cursor_execute", record)
    async with direct_app.state.engine.connect():  # opened now, so the next checkouts are pinged
        pass
    await direct_app.state.reader.execute(text("SELECT 1"))
    async with direct_app.state.sessionmaker() as session:
        await session.execute(text("SELECT 1"))

    assert in_transaction == [False, True]  # the read path's ping opened none; the session's did (BEGIN)
    assert await server_states(direct_app) == ["idle"]
    assert direct_app.state.engine.pool.checkedout() == 0


async def test_read_path_replaces_a_connection_the_server_terminated(direct_app: FastAPI) -> None:
    terminated, response = await get_after_terminating_the_app_connections(direct_app, "/notes")

    assert terminated == [True]
    assert response.status_code == 200
    assert response.json() == []
    assert direct_app.state.engine.pool.checkedout() == 0


@pytest.fixture
async def attempts(direct_app: FastAPI) -> Callable[[], Awaitable[int]]:
    """A sequence named attempts that statements count their runs with (nextval('attempts')); returns a function
    reading how many runs it counted."""
    async with direct_app.state.engine.begin() as connection:
        await connection.execute(text("CREATE SEQUENCE attempts"))

    async def runs() -> int:
        return int((await direct_app.state.reader.execute(text("SELECT last_value FROM attempts"))).scalar_one())

    return runs


async def test_read_path_runs_a_read_again_on_a_new_connection_when_its_connection_is_lost(
    direct_app: FastAPI, attempts: Callable[[], Awaitable[int]]
) -> None:
    # its first run ends its own server connection (pg_terminate_backend): the connection is lost under the statement
    lost_the_first_time = text(
        "SELECT CASE WHEN nextval('attempts') = 1 THEN pg_terminate_backend(pg_backend_pid()) END AS ended"
    )

    row = (await direct_app.state.reader.execute(lost_the_first_time)).one()

    assert row.ended is None  # the second run's answer, on a new connection
    assert await attempts() == 2
    assert direct_app.state.engine.pool.checkedout() == 0


async def test_read_path_runs_a_failing_read_once_when_its_connection_is_fine(
    direct_app: FastAPI, attempts: Callable[[], Awaitable[int]]
) -> None:
    with pytest.raises(DBAPIError, match="division by zero"):
        await direct_app.state.reader.execute(text("SELECT nextval('attempts') / 0"))

    assert await attempts() == 1
    assert direct_app.state.engine.pool.checkedout() == 0
