"""MySQL and MariaDB pieces of the benchmark: the raw asyncmy reference pool and the processlist monitor."""

from typing import Any

import asyncmy  # type: ignore[import-untyped]  # ships no type hints
from sqlalchemy import make_url

from {{ cookiecutter.package_name }}.settings import Settings

from tests.mysql_admin import admin_url, asyncmy_params, connect


class RawPool:
    """asyncmy's own pool: the practical ceiling of this stack."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    async def fetch_number(self) -> int:
        async with self.pool.acquire() as connection, connection.cursor() as cursor:
            await cursor.execute("SELECT 1 AS number")
            row = await cursor.fetchone()
            return int(row[0])

    async def close(self) -> None:
        self.pool.close()
        await self.pool.wait_closed()


async def open_raw_pool(settings: Settings) -> RawPool:
    """A driver-level pool holding up to pool_size + max_overflow connections, like the service's pool."""
    params = asyncmy_params(settings.database_url)
    params.pop("connect_timeout")
    pool = await asyncmy.create_pool(
        **params, minsize=settings.pool_size, maxsize=settings.pool_size + settings.max_overflow
    )
    return RawPool(pool)


class ConnectionMonitor:
    """A direct connection that lists the server connections using the benchmark's database.

    MySQL's processlist does not show a connection's program name (performance_schema, often off, does), so every
    connection to the throwaway database counts: the targets run one after another, so they are one target's.
    """

    def __init__(self, connection: Any, database: str) -> None:
        self.connection = connection
        self.database = database

    async def pids(self, application_name: str) -> list[int]:
        async with self.connection.cursor() as cursor:
            await cursor.execute(
                "SELECT id FROM information_schema.processlist WHERE db = %s AND id <> CONNECTION_ID()",
                (self.database,),
            )
            return [int(row[0]) for row in await cursor.fetchall()]

    async def close(self) -> None:
        await self.connection.ensure_closed()


async def open_monitor(settings: Settings) -> ConnectionMonitor:
    return ConnectionMonitor(await connect(admin_url()), str(make_url(settings.database_url).database))


def connections_note(settings: Settings) -> str | None:
    return None
