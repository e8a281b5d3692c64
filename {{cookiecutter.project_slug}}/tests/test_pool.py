"""The pool keeps overflow connections warm for OVERFLOW_IDLE_TIMEOUT seconds instead of reconnecting, within
SQLAlchemy's limits: never more than pool_size + max_overflow, pool_timeout to wait, pool_size kept when idle."""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only, greenlet_spawn

from {{ cookiecutter.package_name }}.db import build_engine
from {{ cookiecutter.package_name }}.pool import PoolDisposedError
from {{ cookiecutter.package_name }}.settings import Settings

POOL_SIZE, MAX_OVERFLOW = 2, 3
LIMIT = POOL_SIZE + MAX_OVERFLOW


class Counts:
    """Connections the pool opened and closed, from its own events."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.opened = self.closed = 0
        event.listen(engine.sync_engine.pool, "connect", self._opened)
        event.listen(engine.sync_engine.pool, "close", self._closed)

    def _opened(self, *_: object) -> None:
        self.opened += 1

    def _closed(self, *_: object) -> None:
        self.closed += 1


@pytest.fixture
def make_engine(database_url: str) -> Callable[..., AsyncIterator[tuple[AsyncEngine, Counts]]]:
    @asynccontextmanager
    async def make(**overrides: object) -> AsyncIterator[tuple[AsyncEngine, Counts]]:
        values = {"pool_size": POOL_SIZE, "max_overflow": MAX_OVERFLOW, "pool_timeout": 5} | overrides
        engine = build_engine(Settings(_env_file=None, database_url=database_url, **values))
        try:
            yield engine, Counts(engine)
        finally:
            await engine.dispose()

    return make


async def burst(engine: AsyncEngine, clients: int = 4 * LIMIT) -> None:
    """More clients than connections, each holding one for a moment: the pool goes up to its limit."""

    async def client() -> None:
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT 1"))).scalar_one() == 1
            await asyncio.sleep(0.02)

    await asyncio.gather(*(client() for _ in range(clients)))


async def test_overflow_connections_are_reused_by_the_next_burst_not_reopened(make_engine) -> None:
    async with make_engine(overflow_idle_timeout=30) as (engine, counts):
        for _ in range(3):
            await burst(engine)
        assert counts.opened == LIMIT
        assert counts.closed == 0
        assert engine.pool.checkedin() == LIMIT
        assert engine.pool.checkedout() == 0


async def test_timeout_zero_closes_overflow_connections_at_once_as_sqlalchemy_does(make_engine) -> None:
    async with make_engine(overflow_idle_timeout=0) as (engine, counts):
        for _ in range(3):
            await burst(engine)
        assert counts.opened == LIMIT + 2 * MAX_OVERFLOW  # each later burst reopens every overflow connection
        assert engine.pool.checkedin() == POOL_SIZE


async def test_idle_overflow_connections_are_closed_after_the_timeout_without_further_requests(make_engine) -> None:
    async with make_engine(overflow_idle_timeout=0.3) as (engine, counts):
        await burst(engine)
        assert engine.pool.checkedin() == LIMIT
        await asyncio.sleep(1.0)
        assert counts.closed == MAX_OVERFLOW
        assert engine.pool.checkedin() == POOL_SIZE
        assert engine.pool.overflow() == 0
        await burst(engine)  # and the pool grows again when needed
        assert counts.opened == LIMIT + MAX_OVERFLOW


async def test_never_more_than_pool_size_plus_overflow_and_the_pool_timeout_still_applies(make_engine) -> None:
    async with make_engine(overflow_idle_timeout=30, pool_timeout=0.3) as (engine, counts):
        # one client per connection leaves idle overflow connections behind without any client waiting: a burst
        # that queued could itself run into the short timeout on a busy machine (it did, in a CI run)
        await burst(engine, clients=LIMIT)
        assert engine.pool.checkedin() == LIMIT
        held = [await engine.connect() for _ in range(LIMIT)]
        try:
            assert engine.pool.checkedout() == LIMIT
            with pytest.raises(PoolTimeoutError):
                await engine.connect()
        finally:
            for connection in held:
                await connection.close()
        assert counts.opened == LIMIT
        assert engine.pool.checkedout() == 0


async def test_dispose_closes_the_idle_overflow_connections_too(make_engine) -> None:
    async with make_engine(overflow_idle_timeout=30) as (engine, counts):
        await burst(engine)
        await engine.dispose()
        assert counts.closed == counts.opened == LIMIT
        assert engine.pool.checkedin() == 0


async def test_waiting_requests_get_connections_in_arrival_order_even_against_newcomers(make_engine) -> None:
    async with make_engine(pool_size=1, max_overflow=0) as (engine, _):
        order: list[str] = []

        async def request(name: str) -> None:
            async with engine.connect() as connection:
                order.append(name)
                await connection.execute(text("SELECT 1"))
                await asyncio.sleep(0.01)

        held = await engine.connect()
        waiting = []
        for name in ("first", "second", "third"):
            waiting.append(asyncio.create_task(request(name)))
            await asyncio.sleep(0.02)  # each is queued before the next arrives
        await held.close()
        newcomer = asyncio.create_task(request("newcomer"))  # arrives as the connection comes back
        await asyncio.gather(*waiting, newcomer)

        assert order == ["first", "second", "third", "newcomer"]


async def test_a_waiter_cancelled_just_after_being_handed_a_connection_passes_it_on(make_engine) -> None:
    async with make_engine(pool_size=1, max_overflow=0, pool_timeout=1) as (engine, counts):
        held = await engine.connect()
        waiter = asyncio.create_task(engine.connect().start())
        await asyncio.sleep(0.05)  # waiting in the pool
        await held.close()  # hands the connection to the waiter...
        waiter.cancel()  # ...which is cancelled before it resumes
        with pytest.raises(asyncio.CancelledError):
            await waiter

        async with engine.connect() as connection:  # would time out after 1 s if the connection were lost
            assert (await connection.execute(text("SELECT 1"))).scalar_one() == 1
        assert engine.pool.checkedout() == 0
        assert counts.opened == 1


class FailingConnects:
    """The next `count` connects fail after `after` seconds, as a database that stopped answering would."""

    def __init__(self, engine: AsyncEngine, count: int, after: float) -> None:
        self.left, self.after = count, after
        # wraps the dialect's connect: a do_connect listener would come after the backend's own (PostgreSQL), which
        # connects and ends the chain
        dialect = engine.sync_engine.dialect
        self._dialect_connect = dialect.connect
        dialect.connect = self._connect  # type: ignore[method-assign]

    def _connect(self, *cargs: Any, **cparams: Any) -> Any:
        if self.left > 0:
            self.left -= 1
            await_only(asyncio.sleep(self.after))
            raise ConnectionRefusedError("test: this connect fails")
        return self._dialect_connect(*cargs, **cparams)


async def test_a_slot_freed_by_a_failed_connect_goes_to_the_waiting_request_at_once(make_engine) -> None:
    """One connection held; a second request's connect fails after 0.3 s; a third request, queued meanwhile, opens
    a connection in the freed slot then, instead of waiting out its pool_timeout (SQLAlchemy's pool lets it sleep)."""
    timeout = 5.0
    async with make_engine(pool_size=1, max_overflow=1, pool_timeout=timeout) as (engine, _):
        held = await engine.connect()
        FailingConnects(engine, count=1, after=0.3)
        loop = asyncio.get_running_loop()
        started = loop.time()
        second = asyncio.create_task(engine.connect().start())
        await asyncio.sleep(0.05)  # the second is connecting: the pool is at its limit
        third = asyncio.create_task(engine.connect().start())
        with pytest.raises(ConnectionRefusedError):
            await second
        connection = await third
        waited = loop.time() - started
        try:
            assert waited < timeout / 2, f"the third request waited {waited:.2f} s for a free slot"
            assert (await connection.execute(text("SELECT 1"))).scalar_one() == 1
        finally:
            await connection.close()
            await held.close()


async def test_dispose_fails_the_waiting_requests_at_once(make_engine) -> None:
    async with make_engine(pool_size=1, max_overflow=0, pool_timeout=30) as (engine, _):
        held = await engine.connect()
        waiter = asyncio.create_task(engine.connect().start())
        await asyncio.sleep(0.05)
        await engine.dispose()
        with pytest.raises(PoolDisposedError):
            await asyncio.wait_for(waiter, 5)
        await held.close()


async def test_dispose_closes_the_other_connections_when_closing_one_fails(make_engine) -> None:
    async with make_engine(overflow_idle_timeout=30) as (engine, _):
        await burst(engine)  # POOL_SIZE kept and MAX_OVERFLOW idle overflow connections
        failed: list[Any] = []

        def fail_first(dbapi_connection: Any, _record: object) -> None:
            if not failed:
                failed.append(dbapi_connection)
                raise RuntimeError("test: closing this connection fails")

        closed: list[Any] = []
        event.listen(engine.sync_engine.pool, "close", fail_first)
        event.listen(engine.sync_engine.pool, "close", lambda dbapi_connection, _: closed.append(dbapi_connection))
        with pytest.raises(RuntimeError, match="closing this connection fails"):
            await engine.dispose()
        assert len(closed) == LIMIT - 1, "every connection but the failing one is closed"
        await greenlet_spawn(failed[0].close)
