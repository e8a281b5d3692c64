"""The engine, its connection pool, the per-request session and the read path.

The read path (ReaderDep) is for hot read-only routes: each statement on a connection of the same pool (same
limits, pre-ping, POOL_TIMEOUT and 503s, metrics), in autocommit where the backend allows it, with no ORM session
and no transaction; the connection goes back to the pool as soon as the rows are read. The README's benchmark
measures what that saves. A route must not use it when it writes or runs anything unsafe to repeat (a statement whose
connection is lost under it runs once more on a new one), when several statements must see one snapshot (each
statement stands alone), or when it must see its own request's uncommitted writes made on a session.
The database's module says how its reads run and why (read_isolation_level): in autocommit where that is safe and
saves round trips, else each statement in a short transaction of its own.
"""

import asyncio
import logging
from collections.abc import Mapping
from typing import Annotated, Any, cast

from anyio import CancelScope
from fastapi import Depends, Request
from sqlalchemy import Executable, FrozenResult, Result
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool, NullPool, QueuePool
from sqlalchemy.util import greenlet_spawn
from starlette.types import ASGIApp, Receive, Scope, Send

from {{ cookiecutter.package_name }} import {{ cookiecutter.__driver_module }}
from {{ cookiecutter.package_name }}.backend import AUTOCOMMIT_CHECKOUT, Backend
from {{ cookiecutter.package_name }}.pool import FairWarmPool
from {{ cookiecutter.package_name }}.pool_timing import CheckoutTiming
from {{ cookiecutter.package_name }}.settings import PoolClass, Settings

logger = logging.getLogger(__name__)

# the database's own module, checked by mypy against the contract in backend.py
backend: Backend = {{ cookiecutter.__driver_module }}

SIZING_CHECK_TIMEOUT_SECONDS = 10


class TimedFairWarmPool(CheckoutTiming, FairWarmPool):
    """POOL_CLASS=fair: this project's pool (pool.py), its checkout waits timed for /metrics."""

    pool_class: PoolClass = "fair"


class TimedAsyncAdaptedQueuePool(CheckoutTiming, AsyncAdaptedQueuePool):
    """POOL_CLASS=stock: SQLAlchemy's own asyncio queue pool, unchanged but for the timing of checkout waits."""

    pool_class: PoolClass = "stock"


POOL_CLASSES: dict[PoolClass, type[TimedFairWarmPool | TimedAsyncAdaptedQueuePool]] = {
    "fair": TimedFairWarmPool,
    "stock": TimedAsyncAdaptedQueuePool,
}


def build_engine(settings: Settings, pooled: bool = True) -> AsyncEngine:
    """An engine whose pool is chosen (POOL_CLASS), sized and tuned by the settings; no connection is opened yet.

    pooled=False gives SQLAlchemy's NullPool instead, a new connection per checkout: what no pooling costs (the
    benchmark's reference, not a setting of the service).
    """
    engine = create_async_engine(
        settings.database_url,
        connect_args=backend.connect_args(settings),
        **(pool_options(settings) if pooled else {"poolclass": NullPool}),
    )
    backend.prepare_engine(engine, settings)
    return engine


def pool_options(settings: Settings) -> dict[str, Any]:
    pool_class = POOL_CLASSES[settings.pool_class]
    # the stock pool closes a returned overflow connection at once: it takes no overflow_idle_timeout
    extra = {"overflow_idle_timeout": settings.overflow_idle_timeout} if pool_class is TimedFairWarmPool else {}
    return {
        "poolclass": pool_class,
        "pool_size": settings.pool_size,
        "max_overflow": settings.max_overflow,
        "pool_timeout": settings.pool_timeout,
        "pool_recycle": settings.pool_recycle,
        "pool_pre_ping": settings.pool_pre_ping,
        **extra,
    }


def build_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: objects returned by a route stay readable after its commit
    return async_sessionmaker(engine, expire_on_commit=False)


# where SessionRelease keeps the sessions of a request, in its ASGI scope
SESSIONS_KEY = "db_sessions"


async def get_session(request: Request) -> AsyncSession:
    """A session for one request: rolled back unless committed, its connection always released (by SessionRelease,
    once the app has answered).

    A plain dependency rather than one with yield: FastAPI wraps each of those in a context manager, a shielded
    cancel scope and an exit stack, which cost more CPU per request than this middleware does.
    """
    sessions: list[AsyncSession] | None = request.scope.get(SESSIONS_KEY)
    if sessions is None:
        raise RuntimeError("SessionDep needs the SessionRelease middleware (create_app installs it)")
    session: AsyncSession = request.app.state.sessionmaker()
    sessions.append(session)
    return session


class SessionRelease:
    """Pure ASGI: releases the sessions the request's dependencies opened (release_session) after the app returns,
    whether it answered, raised or was cancelled, in a shielded cancel scope as FastAPI exits a dependency with
    yield: a second cancellation does not leave a connection checked out."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        sessions: list[AsyncSession] = []
        scope[SESSIONS_KEY] = sessions
        try:
            await self.app(scope, receive, send)
        finally:
            if sessions:
                with CancelScope(shield=True):
                    for session in sessions:
                        await release_session(session)


class Reader:
    """The read path: runs one statement at a time on a pooled connection in the backend's read isolation level
    (autocommit where it is safe), checked out for that statement only and returned before the route uses the rows.

    The same pool as the sessions (its limits, POOL_TIMEOUT and 503s, pre-ping, metrics, tracing), without the ORM
    session, without a transaction where the backend allows it, and in one hop into SQLAlchemy per statement. A
    backend's pre-ping may check these checkouts without a round trip (AUTOCOMMIT_CHECKOUT): a connection that is lost
    all the same is found by the statement, which then runs once more on a new connection.
    """

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        level = backend.read_isolation_level(settings)
        self.autocommit = level == "AUTOCOMMIT"
        # set on each connection, not on the engine: an engine with an isolation_level option (OptionEngine) sets it
        # through an event listener, and an engine with listeners runs SQLAlchemy's event hooks on every statement
        self.options = {"isolation_level": level} if level is not None else {}
        self.engine = engine.sync_engine

    async def execute(self, statement: Executable, parameters: Mapping[str, Any] | None = None) -> Result[Any]:
        """The statement's whole result, read into memory (SELECTs of bounded size: use LIMIT)."""
        autocommit = AUTOCOMMIT_CHECKOUT.set(self.autocommit)  # the pre-ping then opens no transaction
        try:
            frozen = await greenlet_spawn(self._run, statement, parameters)
        finally:
            AUTOCOMMIT_CHECKOUT.reset(autocommit)
        return frozen()

    def _run(self, statement: Executable, parameters: Mapping[str, Any] | None) -> FrozenResult[Any]:
        try:
            return self._run_once(statement, parameters)
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            # the connection was lost before or while the statement ran (a restarted server, a terminated backend, a
            # dropped socket): SQLAlchemy discarded it and marked the pool's older ones for replacement; a read is
            # safe to repeat, so once more on a new connection (a second loss is the request's error)
            logger.warning("a read lost its database connection (%s); running it again", type(error.orig).__name__)
            return self._run_once(statement, parameters)

    def _run_once(self, statement: Executable, parameters: Mapping[str, Any] | None) -> FrozenResult[Any]:
        connection = self.engine.connect()
        try:
            if self.options:
                connection.execution_options(**self.options)
            return connection.execute(statement, parameters).freeze()
        finally:
            try:
                connection.close()
            except Exception as error:  # as release_session: the connection is discarded, the statement's outcome kept
                logger.warning("discarding a broken database connection: %s", type(error).__name__)
                try:
                    connection.invalidate()
                except Exception as second:
                    logger.warning("could not invalidate the connection either: %s", type(second).__name__)


async def get_reader(request: Request) -> Reader:
    reader: Reader = request.app.state.reader
    return reader


async def release_session(session: AsyncSession) -> None:
    """Roll back what is open and return the connection; a connection that broke meanwhile is discarded.

    Never raises: this runs after the route, when the response may already be sent, so an error here
    could only turn into a log line about a half-sent response.
    """
    try:
        await session.close()
    except Exception as error:
        logger.warning("discarding a broken database connection: %s", type(error).__name__)
        try:
            await session.invalidate()
        except Exception as second:
            logger.warning("could not invalidate the connection either: %s", type(second).__name__)


SessionDep = Annotated[AsyncSession, Depends(get_session)]
ReaderDep = Annotated[Reader, Depends(get_reader)]


async def check_pool_sizing(engine: AsyncEngine, settings: Settings) -> str | None:
    """The start-up sizing warning (logged by the backend), or None; never raises, so a database that is
    down at start-up delays nothing: /health/ready reports it."""
    try:
        async with asyncio.timeout(SIZING_CHECK_TIMEOUT_SECONDS):
            return await backend.check_pool_sizing(engine, settings, settings.workers)
    except Exception as exc:  # any failure only means "not checked"
        logger.info("pool sizing not checked, the database did not answer: %s", type(exc).__name__)
        return None


def describe_pool(engine: AsyncEngine) -> dict[str, object]:
    """How the engine is wired and how busy its pool is, read from the live objects (no secrets)."""
    pool = cast(QueuePool, engine.pool)  # both POOL_CLASS choices are queue pools
    return {
        "dialect": engine.dialect.name,
        "driver": engine.dialect.driver,
        "url": engine.url.render_as_string(hide_password=True),
        "pool": {
            "class": type(pool).__name__,
            "pool_class": getattr(pool, "pool_class", None),  # the POOL_CLASS setting it implements
            "size": pool.size(),
            "max_overflow": pool._max_overflow,
            "timeout": pool.timeout(),
            "recycle": pool._recycle,
            "pre_ping": pool._pre_ping,
            "overflow_idle_timeout": getattr(pool, "overflow_idle_timeout", None),
            "checked_out": pool.checkedout(),
            "checked_in": pool.checkedin(),
            "overflow": pool.overflow(),
        },
    }
