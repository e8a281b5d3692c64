"""Direct access to the PostgreSQL server, bypassing any pooler: the admin connection (ADMIN_DATABASE_URL) that
makes and drops throwaway databases, and that tests and the benchmark use to inspect pg_stat_activity."""

import os
from typing import Any

import asyncpg
from sqlalchemy import make_url

ADMIN_URL_VARIABLE = "ADMIN_DATABASE_URL"
DEFAULT_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def admin_url() -> str:
    """A database on the server whose user may CREATE DATABASE."""
    return os.environ.get(ADMIN_URL_VARIABLE) or DEFAULT_ADMIN_URL


def asyncpg_params(database_url: str) -> dict[str, Any]:
    """asyncpg's connection parameters for the database a SQLAlchemy URL (postgresql+asyncpg://...) names."""
    url = make_url(database_url)
    return {
        "host": url.host,
        "port": url.port,
        "user": url.username,
        "password": url.password,
        "database": url.database,
    }


async def connect(database_url: str) -> asyncpg.Connection:
    """A plain asyncpg connection to the database a SQLAlchemy URL names (giving up after 5 s)."""
    return await asyncpg.connect(**asyncpg_params(database_url), timeout=5)


async def admin_connect() -> asyncpg.Connection:
    """A plain asyncpg connection to the admin database, straight to the server."""
    return await connect(admin_url())


async def admin_execute(statement: str) -> None:
    connection = await admin_connect()
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def admin_fetch(query: str, *args: object) -> list[asyncpg.Record]:
    connection = await admin_connect()
    try:
        return await connection.fetch(query, *args)
    finally:
        await connection.close()


def direct_url(database_url: str) -> str:
    """The same database reached directly rather than through a pooler such as PgBouncer."""
    admin = make_url(admin_url())
    return make_url(database_url).set(host=admin.host, port=admin.port).render_as_string(hide_password=False)
