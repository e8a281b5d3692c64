"""PostgreSQL pieces of the benchmark: the query on a bare asyncpg connection, the raw asyncpg reference pool and
the pg_stat_activity monitor (the functions scripts/bench.py's docstring lists)."""

import asyncpg

from {{ cookiecutter.package_name }} import postgres as backend
from {{ cookiecutter.package_name }}.settings import Settings

from tests.postgres_admin import admin_connect, asyncpg_params

# only the driver's own options: the prepared-statement ones are SQLAlchemy's
ASYNCPG_OPTIONS = {"server_settings", "statement_cache_size"}


async def fetch_number(connection: asyncpg.Connection) -> int:
    """The ladder's query through the driver alone."""
    return int(await connection.fetchval("SELECT 1 AS number"))


class RawPool:
    """asyncpg's own pool: the practical ceiling of this stack."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def fetch_number(self) -> int:
        async with self.pool.acquire() as connection:
            return await fetch_number(connection)

    async def close(self) -> None:
        await self.pool.close()


async def open_raw_pool(settings: Settings) -> RawPool:
    """A driver-level pool holding up to pool_size + max_overflow connections, like the service's pool."""
    pool = await asyncpg.create_pool(
        **asyncpg_params(settings.database_url),
        min_size=settings.pool_size,
        max_size=settings.pool_size + settings.max_overflow,
        **{k: v for k, v in backend.connect_args(settings).items() if k in ASYNCPG_OPTIONS},
    )
    return RawPool(pool)


class ConnectionMonitor:
    """A direct connection that lists the server processes serving one application_name."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection

    async def pids(self, application_name: str) -> list[int]:
        query = "SELECT pid FROM pg_stat_activity WHERE application_name = $1"
        return [row[0] for row in await self.connection.fetch(query, application_name)]

    async def close(self) -> None:
        await self.connection.close()


async def open_monitor(settings: Settings) -> ConnectionMonitor | None:
    """A monitor on the server, or None behind PgBouncer (its pool owns the server connections)."""
    if settings.pgbouncer:
        return None
    return ConnectionMonitor(await admin_connect())


def connections_note(settings: Settings) -> str | None:
    if settings.pgbouncer:
        return "peak conns n/a: behind PgBouncer, PgBouncer's pool decides the server connections"
    return None
