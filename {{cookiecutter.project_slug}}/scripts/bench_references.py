"""The apps scripts/bench.py starts as uvicorn servers (`--factory`): the rungs of its cost ladder.

Every rung runs the same query (SELECT 1 AS number) behind the same HTTP stack (FastAPI on uvicorn) with a pool of
the same size, so each step down the ladder is the cost of one more layer:

- raw_app: the bare driver with its own pool of POOL_SIZE + MAX_OVERFLOW connections: the ceiling of this stack;
- engine_app at POOL_DRIVER_PATH: a driver connection checked out of the service's own pool as the read path's are
  (with their pre-ping), queried through the driver: what the pool costs, without SQLAlchemy's execution layer;
- engine_app at CORE_PATH: SQLAlchemy Core on the service's engine, `engine.connect()` in a transaction;
- service_app at READ_PATH: the service's read path (ReaderDep: Core statements in autocommit, no session);
- bare_app: an AsyncSession on SQLAlchemy's stock pool sized POOL_SIZE + MAX_OVERFLOW / 0 and nothing else (no
  pre-ping tuning, no metrics, no error handlers): the plain pattern the service has to match;
- service_app at /items: the service itself; nullpool_app: the service with NullPool.

The driver-specific parts come from scripts/bench_<driver>.py; bench.py's docstring lists what such a module offers.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.util import greenlet_spawn

from {{ cookiecutter.package_name }}.backend import AUTOCOMMIT_CHECKOUT
from {{ cookiecutter.package_name }}.db import ReaderDep, backend, build_engine
from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.schemas import ItemNumber
from {{ cookiecutter.package_name }}.settings import get_settings

from scripts import bench_{{ cookiecutter.__driver_module }} as driver

SELECT_ONE = text("SELECT 1 AS number")
READ_PATH = "/items/read"
POOL_DRIVER_PATH = "/items/driver"
CORE_PATH = "/items/core"


def create_service_app() -> FastAPI:
    """The service, plus the read path on the ladder's query at READ_PATH."""
    app = create_app()

    @app.get(READ_PATH)
    async def read_items(reader: ReaderDep) -> ItemNumber:
        return ItemNumber(number=(await reader.execute(SELECT_ONE)).scalar_one())

    return app


def create_nullpool_app() -> FastAPI:
    return create_app(pooled=False)


def bare(lifespan: object) -> FastAPI:
    app = FastAPI(lifespan=lifespan)  # type: ignore[arg-type]

    @app.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    return app


@asynccontextmanager
async def raw_lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.raw_pool = await driver.open_raw_pool(get_settings())
    try:
        yield
    finally:
        await app.state.raw_pool.close()


def create_raw_app() -> FastAPI:
    app = bare(raw_lifespan)

    @app.get("/items")
    async def read_items() -> dict[str, int]:
        return {"number": await app.state.raw_pool.fetch_number()}

    return app


@asynccontextmanager
async def engine_lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.engine = build_engine(get_settings())
    try:
        yield
    finally:
        await app.state.engine.dispose()


def create_engine_app() -> FastAPI:
    """Two rungs on the service's engine and pool: the driver alone, and SQLAlchemy Core."""
    app = bare(engine_lifespan)
    # checked out as the read path's are (in autocommit, the pre-ping opens no transaction and, on PostgreSQL, makes no
    # round trip), then the driver's API
    in_autocommit = backend.read_isolation_level(get_settings()) == "AUTOCOMMIT"

    @app.get(POOL_DRIVER_PATH)
    async def through_driver(request: Request) -> dict[str, int]:
        autocommit = AUTOCOMMIT_CHECKOUT.set(in_autocommit)
        try:
            connection = await request.app.state.engine.raw_connection()
        finally:
            AUTOCOMMIT_CHECKOUT.reset(autocommit)
        try:
            return {"number": await driver.fetch_number(connection.driver_connection)}
        finally:
            await greenlet_spawn(connection.close)

    @app.get(CORE_PATH)
    async def through_core(request: Request) -> dict[str, int]:
        async with request.app.state.engine.connect() as connection:
            return {"number": (await connection.execute(SELECT_ONE)).scalar_one()}

    return app


@asynccontextmanager
async def bare_lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    engine = create_async_engine(
        settings.database_url,
        connect_args=backend.connect_args(settings),  # the application_name the bench counts connections by
        pool_size=settings.pool_size + settings.max_overflow,
        max_overflow=0,
        pool_timeout=settings.pool_timeout,
        pool_pre_ping=settings.pool_pre_ping,
    )
    app.state.sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    try:
        yield
    finally:
        await engine.dispose()


def create_bare_app() -> FastAPI:
    app = bare(bare_lifespan)

    @app.get("/items")
    async def read_items(request: Request) -> dict[str, int]:
        session: AsyncSession
        async with request.app.state.sessionmaker() as session:
            return {"number": (await session.execute(SELECT_ONE)).scalar_one()}

    return app
