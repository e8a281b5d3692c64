"""MySQL and MariaDB pieces of the benchmark: the query on a bare asyncmy connection, the raw asyncmy reference pool
and the connection monitor (the functions scripts/bench.py's docstring lists)."""

from typing import Any

import asyncmy  # type: ignore[import-untyped]  # ships no type hints

from {{ cookiecutter.package_name }}.settings import Settings

from tests.mysql_admin import admin_url, asyncmy_params, connect


async def fetch_number(connection: Any) -> int:
    """The ladder's query through the driver alone."""
    async with connection.cursor() as cursor:
        await cursor.execute("SELECT 1 AS number")
        row = await cursor.fetchone()
        return int(row[0])


class RawPool:
    """asyncmy's own pool: the practical ceiling of this stack."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    async def fetch_number(self) -> int:
        async with self.pool.acquire() as connection:
            return await fetch_number(connection)

    async def close(self) -> None:
        self.pool.close()
        await self.pool.wait_closed()


async def open_raw_pool(settings: Settings) -> RawPool:
    """A driver-level pool holding up to pool_size + max_overflow connections, like the service's pool."""
    params = asyncmy_params(settings.database_url)
    params.pop("connect_timeout")
    params["program_name"] = settings.application_name
    pool = await asyncmy.create_pool(
        **params, minsize=settings.pool_size, maxsize=settings.pool_size + settings.max_overflow
    )
    return RawPool(pool)


class ConnectionMonitor:
    """A direct connection that lists the server connections carrying one program_name (APPLICATION_NAME), read from
    performance_schema.session_connect_attrs."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    async def pids(self, application_name: str) -> list[int]:
        async with self.connection.cursor() as cursor:
            await cursor.execute(
                "SELECT processlist_id FROM performance_schema.session_connect_attrs "
                "WHERE attr_name = 'program_name' AND attr_value = %s",
                (application_name,),
            )
            return [int(row[0]) for row in await cursor.fetchall()]

    async def close(self) -> None:
        await self.connection.ensure_closed()


async def performance_schema_on(connection: Any) -> bool:
    async with connection.cursor() as cursor:
        await cursor.execute("SELECT @@performance_schema")
        return bool((await cursor.fetchone())[0])


async def open_monitor(settings: Settings) -> ConnectionMonitor | None:
    """A monitor on the server, or None when performance_schema is off (MariaDB's default): processlist alone does
    not say which of the benchmark's servers a connection belongs to."""
    connection = await connect(admin_url())
    if await performance_schema_on(connection):
        return ConnectionMonitor(connection)
    await connection.ensure_closed()
    return None


def connections_note(settings: Settings) -> str | None:
    return (
        "peak conns n/a unless the server runs with performance_schema=ON (the connections' program_name is read "
        "from performance_schema.session_connect_attrs)"
    )
