"""Every SQLAlchemy call on aiosqlite is a trip to the connection's thread and back; a checkout and a release make
none that could do nothing (docs/sqlite.md).

Pre-ping checks a connection in this process, with no statement: there is no server to drop it, so a `SELECT 1` on
aiosqlite's thread (several trips there and back) would find nothing more, at a fifth of the service's rate. A
rollback with no transaction open (a read's release) is not sent to the thread, where sqlite3 would do nothing.
A statement, its rows and its cursor's close are one trip (sqlite_cursor.py), where SQLAlchemy's adapter makes four."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
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


class TripCounter:
    """Counts the work an aiosqlite connection queues for its thread, by name: one trip there and back each. It
    takes the place of the connection's queue (`_tx`, within aiosqlite's version cap) for putting only: the thread
    keeps the queue it started with, and takes the work from there."""

    def __init__(self, driver: Any) -> None:
        self.queue = driver._tx
        self.trips: list[str] = []
        driver._tx = self

    def put_nowait(self, item: tuple[Any, Any]) -> None:
        function = item[1]
        self.trips.append(getattr(getattr(function, "func", function), "__name__", repr(function)))
        self.queue.put_nowait(item)


async def counted(connection: AsyncConnection) -> TripCounter:
    return TripCounter((await connection.get_raw_connection()).driver_connection)


async def test_a_statement_is_one_trip_to_the_driver_s_thread(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        counter = await counted(connection)

        result = await connection.execute(text("SELECT 2 AS number UNION ALL SELECT 3 ORDER BY number"))
        assert list(result.keys()) == ["number"]
        assert result.scalars().all() == [2, 3]
        assert len(counter.trips) == 1, counter.trips

        written = await connection.execute(
            text("INSERT INTO notes (title, body) VALUES (:title, '')"), [{"title": "a"}, {"title": "b"}]
        )
        assert written.rowcount == 2
        one = await connection.execute(text("INSERT INTO notes (title, body) VALUES ('c', '')"))
        assert one.rowcount == 1
        assert one.lastrowid == 3
        assert len(counter.trips) == 3, counter.trips  # the transaction began with the first write, in its trip

        await connection.rollback()
    async with engine.connect() as connection:
        assert (await connection.execute(text("SELECT count(*) FROM notes"))).scalar_one() == 0


async def test_a_failing_statement_raises_the_driver_s_error_and_the_connection_goes_on(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        with pytest.raises(OperationalError, match="no such table: missing"):
            await connection.execute(text("SELECT * FROM missing"))
        await connection.rollback()
        with pytest.raises(IntegrityError, match="NOT NULL constraint failed: notes.title"):
            await connection.execute(text("INSERT INTO notes (title) VALUES (NULL)"))
        await connection.rollback()
        assert (await connection.execute(text("SELECT 2"))).scalar_one() == 2


async def test_a_streamed_result_still_reads_rows_as_it_goes(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        result = await connection.stream(text("SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3"))
        assert [row[0] async for row in result] == [1, 2, 3]
