"""Alembic environment: runs migrations on the service's own async engine settings."""

import asyncio
import zlib
from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from {{ cookiecutter.package_name }} import {{ cookiecutter.__driver_module }} as backend
from {{ cookiecutter.package_name }}.models import Base
from {{ cookiecutter.package_name }}.settings import get_settings

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata

# Replicas that start together all run `alembic upgrade head`: each takes a lock first, so one migrates while the others
# wait, then find the version table up to date. On PostgreSQL an advisory lock of the migration transaction (not of the
# session, so it holds through PgBouncer's transaction pooling too), released by the commit; on MySQL a named lock.
MIGRATION_LOCK_KEY = zlib.crc32(b"{{ cookiecutter.package_name }}:alembic")
LOCK_WAIT_SECONDS = 600  # MySQL: how long a replica waits for another's migrations (MariaDB takes no "forever")


def database_url() -> str:
    # A caller (tests, the smoke test) may pass the URL in; otherwise the service's settings decide
    return config.attributes.get("database_url") or get_settings().database_url


def run_migrations_offline() -> None:
    context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def mysql_lock_name(connection: Connection) -> str:
    """MySQL's named locks are server-wide (PostgreSQL's advisory locks are per database): the name holds both."""
    return f"alembic:{zlib.crc32(f'{MIGRATION_LOCK_KEY}:{connection.engine.url.database}'.encode())}"


def take_migration_lock(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    elif connection.dialect.name == "mysql":
        # MySQL commits each CREATE or ALTER on its own, so no transaction covers the migrations: a named lock of the
        # connection instead, released below (or when the connection ends, should a migration fail)
        name = mysql_lock_name(connection)
        taken = connection.execute(text("SELECT GET_LOCK(:name, :wait)"), {"name": name, "wait": LOCK_WAIT_SECONDS})
        if taken.scalar() != 1:
            raise RuntimeError(f"another migration held the lock {name!r} for {LOCK_WAIT_SECONDS} s; try again")


def do_run_migrations(connection: Connection) -> None:
    # render_as_batch: SQLite alters tables by copying them; a no-op elsewhere
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        take_migration_lock(connection)
        context.run_migrations()
    if connection.dialect.name == "mysql":
        connection.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": mysql_lock_name(connection)})


async def run_migrations_online() -> None:
    # The service's own connection arguments: behind PgBouncer, prepared statements must not be cached
    engine = create_async_engine(database_url(), poolclass=NullPool, connect_args=backend.connect_args(get_settings()))
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
