"""Create the database DATABASE_URL names when it does not exist yet: `python -m {{ cookiecutter.package_name }}.create_database`.

Run it once before the first `alembic upgrade head` (the next steps, the README and CI do). It connects to a
maintenance database on the same server: ADMIN_DATABASE_URL when set (environment or `.env`; it must reach the server
directly, not through a pooler), else DATABASE_URL with the server's maintenance database (`postgres` on PostgreSQL,
none on MySQL). Exit 0 when the database exists
afterwards (created now or already there), 2 when the server could not be reached or refused.
"""

import asyncio
import sys

from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import URL, make_url, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from {{ cookiecutter.package_name }} import {{ cookiecutter.__driver_module }} as backend
from {{ cookiecutter.package_name }}.redaction import mask_passwords
from {{ cookiecutter.package_name }}.settings import ConfigurationError, get_settings

EXIT_UNREACHABLE = 2
CONNECT_TIMEOUT_SECONDS = 10


class AdminSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    admin_database_url: str = ""


def maintenance_url(database_url: str, admin_database_url: str) -> URL:
    if admin_database_url:
        return make_url(admin_database_url)
    url = make_url(database_url)
    return url.set(database=backend.MAINTENANCE_DATABASE)


async def create_database(database_url: str, admin_database_url: str) -> bool:
    """True when the database was created now, False when it existed already."""
    wanted = make_url(database_url).database
    if not wanted:
        raise ValueError("DATABASE_URL names no database")
    admin = maintenance_url(database_url, admin_database_url)
    engine = create_async_engine(admin, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS), engine.connect() as connection:

            async def exists() -> bool:
                return (await connection.execute(text(backend.DATABASE_EXISTS), {"name": wanted})).first() is not None

            if await exists():
                return False
            quoted = engine.dialect.identifier_preparer.quote_identifier(wanted)
            try:
                await connection.execute(text(f"CREATE DATABASE {quoted}{backend.CREATE_DATABASE_OPTIONS}"))
            except DBAPIError:
                if await exists():
                    return False  # another process created it in between
                raise
            return True
    finally:
        await engine.dispose()


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
    except (OSError, TimeoutError, DBAPIError) as error:
        reason = mask_passwords(str(error), *filter(None, (settings.database_url, admin_database_url)))
        print(f"could not create database {name!r}: {type(error).__name__}: {reason}", file=sys.stderr)
        return EXIT_UNREACHABLE
    print(f"database {name!r} {'created' if created else 'exists already'} ({settings.masked_database_url})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
