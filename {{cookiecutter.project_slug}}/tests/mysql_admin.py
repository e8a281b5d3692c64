"""Direct access to the MySQL or MariaDB server: the admin connection (ADMIN_DATABASE_URL) that makes and drops
throwaway databases, and that tests and the benchmark use to inspect information_schema.processlist."""

import os
from typing import Any

import asyncmy  # type: ignore[import-untyped]  # ships no type hints
from sqlalchemy import make_url

ADMIN_URL_VARIABLE = "ADMIN_DATABASE_URL"
DEFAULT_ADMIN_URL = "mysql+asyncmy://root@127.0.0.1:3306/"
UNKNOWN_THREAD = 1094  # KILL of a connection that has gone


def admin_url() -> str:
    """An account on the server that may CREATE DATABASE, DROP DATABASE and KILL other accounts' connections."""
    return os.environ.get(ADMIN_URL_VARIABLE) or DEFAULT_ADMIN_URL


def asyncmy_params(database_url: str) -> dict[str, Any]:
    """asyncmy's connection parameters for the database a SQLAlchemy URL (mysql+asyncmy://...) names."""
    url = make_url(database_url)
    return {
        "host": url.host or "127.0.0.1",
        "port": url.port or 3306,
        "user": url.username or "root",
        "password": url.password or "",
        "database": url.database or None,
        "charset": "utf8mb4",
        "autocommit": True,
        "connect_timeout": 5,
    }


async def connect(database_url: str) -> Any:
    """A plain asyncmy connection (autocommit) to the database a SQLAlchemy URL names."""
    return await asyncmy.connect(**asyncmy_params(database_url))


async def admin_fetch(query: str, *args: object) -> list[tuple[Any, ...]]:
    """The rows of one statement run on the admin connection (%s placeholders)."""
    return await fetch(admin_url(), query, *args)


async def fetch(database_url: str, query: str, *args: object) -> list[tuple[Any, ...]]:
    """The rows of one statement on a plain connection (autocommit) to the database a URL names (%s placeholders)."""
    connection = await connect(database_url)
    try:
        async with connection.cursor() as cursor:
            await cursor.execute(query, args or None)
            return list(await cursor.fetchall())
    finally:
        await connection.ensure_closed()


async def admin_execute(statement: str, *args: object) -> None:
    await admin_fetch(statement, *args)


async def connection_ids(database: str) -> list[int]:
    """The server's connections (processlist ids) using this database, the admin's own excepted."""
    rows = await admin_fetch(
        "SELECT id FROM information_schema.processlist WHERE db = %s AND id <> CONNECTION_ID()", database
    )
    return [int(row[0]) for row in rows]


async def admin_kill(connection_id: int) -> None:
    """Ends a server connection as a crash or an operator would; one that has ended meanwhile is no error."""
    try:
        await admin_execute(f"KILL {int(connection_id)}")
    except asyncmy.errors.OperationalError as error:
        if error.args[0] != UNKNOWN_THREAD:
            raise
