"""Create the database DATABASE_URL names when it does not exist yet: `python -m {{ cookiecutter.package_name }}.create_database`.

Run it once before the first `alembic upgrade head` (the next steps, the README and CI do). It connects to a
maintenance database on the same server: ADMIN_DATABASE_URL when set (environment or `.env`; it must reach the server
directly, not through PgBouncer), else DATABASE_URL with the database `postgres`. Exit 0 when the database exists
afterwards (created now or already there), 2 when the server could not be reached or refused.
"""

import asyncio
import sys

import asyncpg  # type: ignore[import-untyped]  # ships no type hints
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import URL, make_url

from {{ cookiecutter.package_name }}.redaction import mask_passwords
from {{ cookiecutter.package_name }}.settings import ConfigurationError, get_settings

EXIT_UNREACHABLE = 2
MAINTENANCE_DATABASE = "postgres"


class AdminSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    admin_database_url: str = ""


def maintenance_url(database_url: str, admin_database_url: str) -> URL:
    if admin_database_url:
        return make_url(admin_database_url)
    return make_url(database_url).set(database=MAINTENANCE_DATABASE)


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def create_database(database_url: str, admin_database_url: str) -> bool:
    """True when the database was created now, False when it existed already."""
    wanted = make_url(database_url).database
    if not wanted:
        raise ValueError("DATABASE_URL names no database")
    admin = maintenance_url(database_url, admin_database_url)
    connection = await asyncpg.connect(
        host=admin.host,
        port=admin.port,
        user=admin.username,
        password=admin.password,
        database=admin.database,
        timeout=10,
    )
    try:
        if await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", wanted):
            return False
        try:
            await connection.execute(f"CREATE DATABASE {quoted(wanted)}")
        except asyncpg.DuplicateDatabaseError:
            return False  # another process created it in between
        return True
    finally:
        await connection.close()


def main() -> int:
    try:
        settings = get_settings()
    except ConfigurationError as error:
        print(error, file=sys.stderr)
        return 1
    name = make_url(settings.database_url).database
    admin_database_url = AdminSettings().admin_database_url
    try:
        created = asyncio.run(create_database(settings.database_url, admin_database_url))
    except (OSError, asyncpg.PostgresError) as error:
        reason = mask_passwords(str(error), *filter(None, (settings.database_url, admin_database_url)))
        print(f"could not create database {name!r}: {type(error).__name__}: {reason}", file=sys.stderr)
        return EXIT_UNREACHABLE
    print(f"database {name!r} {'created' if created else 'exists already'} ({settings.masked_database_url})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
