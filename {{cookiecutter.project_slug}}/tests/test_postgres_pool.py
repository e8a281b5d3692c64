"""Under load, one process never holds more server connections than pool_size + max_overflow; the pool's
opened/closed counters agree with the connections the server sees."""

import asyncio
from uuid import uuid4

import httpx
import pytest
from prometheus_client import generate_latest

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.settings import Settings

from tests.live_server import run_server
from tests.metrics_text import SETTLE_SECONDS, PoolReading, scrape, settled
from tests.postgres_admin import admin_connect, direct_url

POOL_SIZE, MAX_OVERFLOW = 2, 1
CLIENTS, REQUESTS_EACH = 64, 5
COUNT_CONNECTIONS = "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1"


async def test_load_never_opens_more_than_pool_size_plus_overflow(database_url: str, tmp_path) -> None:
    application_name = f"pool-limit-{uuid4().hex[:8]}"
    env = {
        "DATABASE_URL": database_url,
        "POOL_SIZE": str(POOL_SIZE),
        "MAX_OVERFLOW": str(MAX_OVERFLOW),
        "APPLICATION_NAME": application_name,
    }
    with run_server(env, str(tmp_path / "server.log")) as server:
        statuses: list[int] = []
        peak = 0
        done = asyncio.Event()

        async def sample() -> None:
            nonlocal peak
            monitor = await admin_connect()  # directly: a pooler in between cannot run cached statements
            try:
                while not done.is_set():
                    peak = max(peak, await monitor.fetchval(COUNT_CONNECTIONS, application_name))
                    await asyncio.sleep(0.005)
            finally:
                await monitor.close()

        async def client(http: httpx.AsyncClient) -> None:
            for _ in range(REQUESTS_EACH):
                statuses.append((await http.get("/items")).status_code)

        sampler = asyncio.create_task(sample())
        limits = httpx.Limits(max_connections=CLIENTS)
        async with httpx.AsyncClient(base_url=server.base_url, limits=limits, timeout=30) as http:
            await asyncio.gather(*(client(http) for _ in range(CLIENTS)))
        done.set()
        await sampler

    assert statuses == [200] * (CLIENTS * REQUESTS_EACH)
    assert 1 <= peak <= POOL_SIZE + MAX_OVERFLOW


@pytest.mark.parametrize("pool_class", ["fair", "stock"])
async def test_metrics_opened_minus_closed_is_what_the_server_holds(database_url: str, pool_class: str) -> None:
    application_name = f"pool-metrics-{uuid4().hex[:8]}"
    settings = Settings(
        _env_file=None,
        database_url=direct_url(database_url),  # the server's own count: no pooler in between
        application_name=application_name,
        pool_class=pool_class,
        pool_size=POOL_SIZE,
        max_overflow=MAX_OVERFLOW + 2,
        overflow_idle_timeout=0,
    )
    limit = settings.pool_size + settings.max_overflow
    monitor = await admin_connect()

    async def server_holds(expected: int) -> int:
        """Connections the server lists for this app, once they reach `expected` (a closed one leaves shortly)."""
        for _ in range(int(SETTLE_SECONDS / 0.05)):
            count = await monitor.fetchval(COUNT_CONNECTIONS, application_name)
            if count == expected:
                break
            await asyncio.sleep(0.05)
        return count

    app = create_app(settings)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
        ):
            await app.state.pool_sizing_check
            held = [await app.state.engine.connect() for _ in range(limit)]
            burst = await scrape(client)
            assert burst.opened - burst.closed == limit == await server_holds(limit)
            for connection in held:
                await connection.close()
            after = await settled(client, lambda reading: reading.closed >= settings.max_overflow)
            assert after.closed == settings.max_overflow
            assert after.opened - after.closed == POOL_SIZE == await server_holds(POOL_SIZE)
        final = PoolReading.parse(generate_latest(app.state.metrics.registry).decode())
        assert final.opened == final.closed == limit
        assert await server_holds(0) == 0
    finally:
        await monitor.close()
