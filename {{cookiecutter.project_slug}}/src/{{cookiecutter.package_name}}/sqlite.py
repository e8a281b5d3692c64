"""SQLite specifics: the driver's busy timeout and per-connection pragmas."""

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from {{ cookiecutter.package_name }}.settings import Settings


def connect_args(settings: Settings) -> dict[str, Any]:
    # timeout: seconds the driver waits on a locked database before raising "database is locked"
    return {"timeout": settings.sqlite_busy_timeout_ms / 1000}


def prepare_engine(engine: AsyncEngine, settings: Settings) -> None:
    """Turn on WAL, a busy timeout and foreign keys on every new connection; pre-ping makes no trip to the driver."""
    if settings.pool_pre_ping:
        engine.dialect.do_ping = ping_in_process  # type: ignore[method-assign]

    @event.listens_for(engine.sync_engine, "connect")
    def _set_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL lets readers and a writer work at once; NORMAL sync is safe with WAL and much faster
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(settings.sqlite_busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def ping_in_process(dbapi_connection: Any) -> bool:
    """Pre-ping without a statement; False makes the pool replace the connection.

    SQLite has no server to drop a connection: the one thing that can end it is a close in this process, which is
    what SQLAlchemy's `SELECT 1` on aiosqlite's thread would find, at a fifth of the service's rate (docs/sqlite.md).
    aiosqlite answers `in_transaction` from the connection itself, and raises ValueError once it is closed.
    """
    try:
        dbapi_connection.driver_connection.in_transaction  # noqa: B018  # read for its check
    except ValueError:
        return False
    return True


def read_isolation_level(settings: Settings) -> str | None:
    """None: the sqlite3 module opens a transaction only before a write, so a read already runs in none; switching
    to AUTOCOMMIT and back would cost two trips to aiosqlite's thread per statement and save nothing."""
    return None


async def check_pool_sizing(engine: AsyncEngine, settings: Settings, workers: int) -> str | None:
    """Nothing to check: SQLite has no server-side connection limit."""
    return None
