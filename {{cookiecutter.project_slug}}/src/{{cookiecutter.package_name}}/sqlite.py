"""SQLite specifics: the driver's busy timeout, per-connection pragmas, and fewer trips to aiosqlite's thread."""

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.sqlite_cursor import OneTripConnection


def connect_args(settings: Settings) -> dict[str, Any]:
    # timeout: seconds the driver waits on a locked database before raising "database is locked"
    return {"timeout": settings.sqlite_busy_timeout_ms / 1000}


def prepare_engine(engine: AsyncEngine, settings: Settings) -> None:
    """Turn on WAL, a busy timeout and foreign keys on every new connection, whose statements each take one trip to
    the driver's thread (sqlite_cursor.py); pre-ping, and a rollback with nothing to roll back, take none."""
    engine.dialect.do_rollback = rollback_if_in_transaction  # type: ignore[method-assign]
    if settings.pool_pre_ping:
        engine.dialect.do_ping = ping_in_process  # type: ignore[method-assign]

    @event.listens_for(engine.sync_engine, "connect")
    def _prepare_connection(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.__class__ = OneTripConnection
        cursor = dbapi_connection.cursor()
        # WAL lets readers and a writer work at once; NORMAL sync is safe with WAL and much faster
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(settings.sqlite_busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def transaction_open(dbapi_connection: Any) -> bool | None:
    """Whether the connection has a transaction open, answered by aiosqlite from the connection itself, with no trip
    to its thread; None when the connection is closed (aiosqlite raises ValueError) or the adapter holds none."""
    driver = dbapi_connection.driver_connection
    if driver is None:
        return None
    try:
        return bool(driver.in_transaction)
    except ValueError:
        return None


def ping_in_process(dbapi_connection: Any) -> bool:
    """Pre-ping without a statement; False makes the pool replace the connection.

    SQLite has no server to drop a connection: the one thing that can end it is a close in this process, which is
    what SQLAlchemy's `SELECT 1` on aiosqlite's thread would find, at a fifth of the service's rate (docs/sqlite.md).
    """
    return transaction_open(dbapi_connection) is not None


def rollback_if_in_transaction(dbapi_connection: Any) -> None:
    """Roll back unless no transaction is open. sqlite3 sends ROLLBACK only when one is, but aiosqlite makes a trip to
    its thread first: a read's release (the session's close, then the pool's reset) made two such trips, about a
    tenth of the service's rate (docs/sqlite.md). A closed connection's rollback goes to the driver as before."""
    if transaction_open(dbapi_connection) is not False:
        dbapi_connection.rollback()


def read_isolation_level(settings: Settings) -> str | None:
    """None: the sqlite3 module opens a transaction only before a write, so a read already runs in none; switching
    to AUTOCOMMIT and back would cost two trips to aiosqlite's thread per statement and save nothing."""
    return None


async def check_pool_sizing(engine: AsyncEngine, settings: Settings, workers: int) -> str | None:
    """Nothing to check: SQLite has no server-side connection limit."""
    return None
