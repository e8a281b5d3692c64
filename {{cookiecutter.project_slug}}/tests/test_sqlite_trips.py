"""Every SQLAlchemy call on aiosqlite is a trip to the connection's thread and back; a checkout and a release make
none that could do nothing (docs/sqlite.md).

Pre-ping checks a connection in this process, with no statement: there is no server to drop it, so a `SELECT 1` on
aiosqlite's thread (several trips there and back) would find nothing more, at a fifth of the service's rate. A
rollback with no transaction open (a read's release) is not sent to the thread, where sqlite3 would do nothing."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.util import await_only  # await_ from 2.1 on; await_only is in 2.0 and 2.1

from {{ cookiecutter.package_name }}.db import build_engine
from {{ cookiecutter.package_name }}.models import Note
from {{ cookiecutter.package_name }}.settings import Settings


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """One pooled connection, pre-ping on."""
    settings = Settings(_env_file=None, database_url=database_url, pool_size=1, max_overflow=0, pool_pre_ping=True)
    engine = build_engine(settings)
    try:
        yield engine
    finally:
        await engine.dispose()


async def test_a_checkout_sends_no_statement_before_the_request_s_own(engine: AsyncEngine) -> None:
    statements: list[str] = []

    @event.listens_for(engine.sync_engine, "connect")
    def trace(dbapi_connection: Any, _record: Any) -> None:
        await_only(dbapi_connection.driver_connection.set_trace_callback(statements.append))

    for number in (2, 3):  # the second checkout is the pooled connection's first pre-ping
        async with engine.connect() as connection:
            assert (await connection.execute(text(f"SELECT {number}"))).scalar_one() == number

    assert statements == ["SELECT 2", "SELECT 3"]


async def test_a_connection_closed_under_the_pool_is_replaced_at_checkout(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        closed = (await connection.get_raw_connection()).driver_connection
    assert closed is not None
    await closed.close()

    async with engine.connect() as connection:
        assert (await connection.execute(text("SELECT 2"))).scalar_one() == 2
        assert (await connection.get_raw_connection()).driver_connection is not closed


@pytest.fixture
def rollbacks(engine: AsyncEngine) -> list[bool]:
    """Each rollback that reaches aiosqlite: whether a transaction was open then."""
    seen: list[bool] = []

    @event.listens_for(engine.sync_engine, "connect")
    def count(dbapi_connection: Any, _record: Any) -> None:
        driver = dbapi_connection.driver_connection
        rollback = driver.rollback

        async def counted() -> None:
            seen.append(driver.in_transaction)
            await rollback()

        driver.rollback = counted

    return seen


async def test_a_read_is_released_without_a_rollback(engine: AsyncEngine, rollbacks: list[bool]) -> None:
    for _ in range(2):
        async with AsyncSession(engine) as session:
            assert (await session.execute(text("SELECT count(*) FROM notes"))).scalar_one() == 0

    assert rollbacks == []


async def test_a_write_left_uncommitted_is_still_rolled_back(engine: AsyncEngine, rollbacks: list[bool]) -> None:
    async with AsyncSession(engine) as session:
        session.add(Note(title="never committed"))
        await session.flush()

    async with AsyncSession(engine) as session:
        assert (await session.execute(text("SELECT count(*) FROM notes"))).scalar_one() == 0
    assert rollbacks == [True]
