"""SQLite specifics: the driver's busy timeout and per-connection pragmas."""

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from {{ cookiecutter.package_name }}.settings import Settings


def connect_args(settings: Settings) -> dict[str, Any]:
    # timeout: seconds the driver waits on a locked database before raising "database is locked"
    return {"timeout": settings.sqlite_busy_timeout_ms / 1000}


def prepare_engine(engine: AsyncEngine, settings: Settings) -> None:
    """Turn on WAL, a busy timeout and foreign keys on every new connection."""

    @event.listens_for(engine.sync_engine, "connect")
    def _set_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL lets readers and a writer work at once; NORMAL sync is safe with WAL and much faster
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(settings.sqlite_busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def read_isolation_level(settings: Settings) -> str | None:
    """None: the sqlite3 module opens a transaction only before a write, so a read already runs in none; switching
    to AUTOCOMMIT and back would cost two trips to aiosqlite's thread per statement and save nothing."""
    return None


async def check_pool_sizing(engine: AsyncEngine, settings: Settings, workers: int) -> str | None:
    """Nothing to check: SQLite has no server-side connection limit."""
    return None
