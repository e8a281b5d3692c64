"""SQLite pieces of the benchmark: the query on a bare aiosqlite connection and the raw aiosqlite reference pool;
there are no server connections to count (the functions scripts/bench.py's docstring lists)."""

import asyncio

import aiosqlite
from sqlalchemy import make_url

from {{ cookiecutter.package_name }} import sqlite as backend
from {{ cookiecutter.package_name }}.settings import Settings


async def fetch_number(connection: aiosqlite.Connection) -> int:
    """The ladder's query through the driver alone."""
    async with connection.execute("SELECT 1 AS number") as cursor:
        row = await cursor.fetchone()
    return int(row[0])  # type: ignore[index]


class RawPool:
    """aiosqlite connections handed out from a queue: the simplest fixed-size pool."""

    def __init__(self, connections: list[aiosqlite.Connection]) -> None:
        self.connections = connections
        self.free: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        for connection in connections:
            self.free.put_nowait(connection)

    async def fetch_number(self) -> int:
        connection = await self.free.get()
        try:
            return await fetch_number(connection)
        finally:
            self.free.put_nowait(connection)

    async def close(self) -> None:
        for connection in self.connections:
            await connection.close()


async def open_raw_pool(settings: Settings) -> RawPool:
    """pool_size + max_overflow driver connections, like the service's pool at its fullest."""
    url = make_url(settings.database_url)
    timeout = backend.connect_args(settings)["timeout"]
    size = settings.pool_size + settings.max_overflow
    return RawPool([await aiosqlite.connect(str(url.database), timeout=timeout) for _ in range(size)])


async def open_monitor(settings: Settings) -> None:
    """SQLite has no server connections to sample."""
    return None


def connections_note(settings: Settings) -> str | None:
    return None
