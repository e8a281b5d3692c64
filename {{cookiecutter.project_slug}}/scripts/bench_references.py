"""The benchmark's two references, started by scripts/bench.py as uvicorn apps (`--app-dir scripts`).

- nullpool_app: this service unchanged except that its engine uses NullPool: what no pooling costs.
- raw_app: a minimal FastAPI endpoint on the bare driver with a pool of the same size: the ceiling of this stack.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import bench_{{ cookiecutter.__driver_module }} as driver
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from {{ cookiecutter.package_name }} import {{ cookiecutter.__driver_module }} as backend
from {{ cookiecutter.package_name }}.db import build_sessionmaker
from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.settings import get_settings


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


@asynccontextmanager
async def raw_lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.raw_pool = await driver.open_raw_pool(get_settings())
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
