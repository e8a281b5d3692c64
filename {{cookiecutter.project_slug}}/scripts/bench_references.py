"""The benchmark's two references, started by scripts/bench.py as uvicorn apps.

- nullpool_app: this service unchanged except that its engine uses NullPool: what no pooling costs.
- raw_app: a minimal FastAPI endpoint on the bare driver with a pool of the same size: the ceiling of this stack.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.settings import get_settings

from scripts import bench_{{ cookiecutter.__driver_module }} as driver


def create_nullpool_app() -> FastAPI:
    return create_app(pooled=False)


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
