"""POOL_CLASS: stock swaps this project's pool for SQLAlchemy's with the same limits; the service says which it runs."""

import asyncio
import os
import subprocess
import sys

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.settings import Settings

CLASS_NAMES = {"fair": "TimedFairWarmPool", "stock": "TimedAsyncAdaptedQueuePool"}


@pytest.mark.parametrize("pool_class", ["fair", "stock"])
async def test_ready_reports_the_pool_class_and_requests_work_beyond_the_pool(
    database_url: str, pool_class: str
) -> None:
    settings = Settings(_env_file=None, database_url=database_url, pool_class=pool_class, pool_size=2, max_overflow=1)
    app: FastAPI = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client,
    ):
        ready = await client.get("/health/ready")
        items = await asyncio.gather(*(client.get("/items") for _ in range(24)))  # 8 x the connections
        created = await client.post("/notes", json={"title": pool_class})
        fetched = await client.get(f"/notes/{created.json()['id']}")
        left_out = app.state.engine.pool.checkedout()

    assert ready.status_code == 200
    pool = ready.json()["database"]["pool"]
    assert (pool["pool_class"], pool["class"]) == (pool_class, CLASS_NAMES[pool_class])
    assert (pool["size"], pool["max_overflow"]) == (2, 1)
    assert pool["overflow_idle_timeout"] == (settings.overflow_idle_timeout if pool_class == "fair" else None)
    assert [reply.status_code for reply in items] == [200] * 24
    assert created.status_code == 201
    assert fetched.json()["title"] == pool_class
    assert left_out == 0


def test_smoke_test_runs_and_reports_the_stock_pool(server_url: str) -> None:
    """The smoke test as a user runs it, with POOL_CLASS=stock exported: a real server on a throwaway database."""
    env = {**os.environ, "DATABASE_URL": server_url, "POOL_CLASS": "stock"}
    smoke = subprocess.run(
        [sys.executable, "-m", "tests.smoke"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert smoke.returncode == 0, smoke.stdout + smoke.stderr
    assert "  class:    POOL_CLASS=stock\n" in smoke.stdout
    assert f"POOL_CLASS=stock: {CLASS_NAMES['stock']})" in smoke.stdout
