"""The benchmark's two references, started by scripts/bench.py as uvicorn apps (`--app-dir scripts`).

- nullpool_app: this service unchanged except that its engine uses NullPool: what no pooling costs.
- raw_app: a minimal FastAPI endpoint on the bare driver with a pool of the same size: the ceiling of this stack.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from {{ cookiecutter.package_name }} import {{ cookiecutter.__driver_module }} as backend
from {{ cookiecutter.package_name }}.db import build_sessionmaker
from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.settings import Settings, get_settings

BACKEND = "{{ cookiecutter.__driver_module }}"
ASYNCPG_OPTIONS = {"server_settings", "statement_cache_size"}


@asynccontextmanager
async def nullpool_lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    engine = create_async_engine(settings.database_url, poolclass=NullPool, connect_args=backend.connect_args(settings))
    backend.prepare_engine(engine, settings)
    app.state.engine = engine
    app.state.sessionmaker = build_sessionmaker(engine)
    try:
        yield
    finally:
        await engine.dispose()


def create_nullpool_app() -> FastAPI:
    app = create_app()
    app.router.lifespan_context = nullpool_lifespan
    return app


class SqlitePool:
    """aiosqlite connections handed out from a queue: the simplest fixed-size pool."""

    def __init__(self, connections: list[Any]) -> None:
        self.connections = connections
        self.free: asyncio.Queue[Any] = asyncio.Queue()
        for connection in connections:
            self.free.put_nowait(connection)

    async def fetch_number(self) -> int:
        connection = await self.free.get()
        try:
            async with connection.execute("SELECT 1 AS number") as cursor:
                row = await cursor.fetchone()
            return int(row[0])
        finally:
            self.free.put_nowait(connection)

    async def close(self) -> None:
        for connection in self.connections:
            await connection.close()


class PostgresPool:
    def __init__(self, pool: Any) -> None:
        self.pool = pool

    async def fetch_number(self) -> int:
        async with self.pool.acquire() as connection:
            return int(await connection.fetchval("SELECT 1 AS number"))

    async def close(self) -> None:
        await self.pool.close()


async def open_raw_pool(settings: Settings) -> SqlitePool | PostgresPool:
    """A driver-level pool holding up to pool_size + max_overflow connections, like the service's pool."""
    url = make_url(settings.database_url)
    size = settings.pool_size + settings.max_overflow
    if BACKEND == "postgres":
        import asyncpg

        pool = await asyncpg.create_pool(
            host=url.host,
            port=url.port,
            user=url.username,
            password=url.password,
            database=url.database,
            min_size=settings.pool_size,
            max_size=size,
            # only the driver's own options: the prepared-statement ones are SQLAlchemy's
            **{k: v for k, v in backend.connect_args(settings).items() if k in ASYNCPG_OPTIONS},
        )
        return PostgresPool(pool)
    import aiosqlite

    timeout = backend.connect_args(settings)["timeout"]
    return SqlitePool([await aiosqlite.connect(str(url.database), timeout=timeout) for _ in range(size)])


@asynccontextmanager
async def raw_lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.raw_pool = await open_raw_pool(get_settings())
    try:
        yield
    finally:
        await app.state.raw_pool.close()


def create_raw_app() -> FastAPI:
    app = FastAPI(lifespan=raw_lifespan)

    @app.get("/items")
    async def read_items() -> dict[str, int]:
        return {"number": await app.state.raw_pool.fetch_number()}

    @app.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    return app
