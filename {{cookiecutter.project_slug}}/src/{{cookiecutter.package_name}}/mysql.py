"""MySQL and MariaDB specifics: asyncmy connection arguments (utf8mb4, strict SQL mode) and the start-up checks of the
pool against the server's max_connections and wait_timeout."""

import logging
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from {{ cookiecutter.package_name }}.backend import sizing_problem
from {{ cookiecutter.package_name }}.settings import Settings

logger = logging.getLogger(__name__)

# utf8mb4 is the real UTF-8 (MySQL's "utf8" stops at three bytes: no emoji); TRADITIONAL makes an out-of-range or
# too-long value an error instead of a warning and a silently altered row
CHARSET = "utf8mb4"
SQL_MODE = "TRADITIONAL"

# for create_database.py: where to connect while the database is missing (no database at all), how to ask whether it
# exists, and utf8mb4 for it so that every table made in it stores any character
MAINTENANCE_DATABASE = ""  # none: an empty name connects without choosing a database
DATABASE_EXISTS = "SELECT 1 FROM information_schema.schemata WHERE schema_name = :name"
CREATE_DATABASE_OPTIONS = f" CHARACTER SET {CHARSET} COLLATE {CHARSET}_unicode_ci"


def connect_args(settings: Settings) -> dict[str, Any]:
    return {"charset": CHARSET, "sql_mode": SQL_MODE, "program_name": settings.application_name}


def prepare_engine(engine: AsyncEngine, settings: Settings) -> None:
    """Nothing to add: SQLAlchemy's asyncmy ping is one COM_PING round trip, and asyncmy's errors are the DBAPI's."""


def read_isolation_level(settings: Settings) -> str | None:
    """None: switching a connection to autocommit and back costs a round trip each way, more than the ROLLBACK the
    pool sends when a read's (implicit, REPEATABLE READ) transaction ends."""
    return None


async def check_pool_sizing(engine: AsyncEngine, settings: Settings, workers: int) -> str | None:
    """A warning when the pools would not fit in max_connections, or when the server closes idle connections
    (wait_timeout) before the pool recycles them and no pre-ping would notice."""
    probe = create_async_engine(engine.url, poolclass=NullPool, connect_args=connect_args(settings))
    try:
        async with probe.connect() as connection:
            row = (await connection.execute(text("SELECT @@max_connections, @@wait_timeout"))).one()
    finally:
        await probe.dispose()
    max_connections, wait_timeout = int(row[0]), int(row[1])
    offer = f"the server's max_connections is {max_connections}"
    problems = [sizing_problem(settings, workers, max_connections, offer, "raise max_connections")]
    recycled_in_time = 0 <= settings.pool_recycle < wait_timeout
    if not recycled_in_time and not settings.pool_pre_ping:
        problems.append(
            f"pool recycling: the server closes connections idle for wait_timeout {wait_timeout} s, but "
            f"POOL_RECYCLE={settings.pool_recycle} keeps them longer and POOL_PRE_PING is off, so the first request "
            "after a quiet spell fails; set POOL_RECYCLE below wait_timeout or turn POOL_PRE_PING on"
        )
    message = "; ".join(problem for problem in problems if problem)
    if not message:
        return None
    logger.warning(message)
    return message
