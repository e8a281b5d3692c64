"""Under load, one process never holds more server connections than pool_size + max_overflow."""

import asyncio
from uuid import uuid4

import httpx

from {{ cookiecutter.package_name }}.server import run_server
from tests.postgres_admin import admin_connect

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
