"""Throwaway PostgreSQL databases for the tests, the smoke test and the benchmark, made through ADMIN_DATABASE_URL."""

from contextlib import AbstractAsyncContextManager

from tests.postgres_admin import admin_execute
from tests.scratch_server import scratch_database_on


async def create_database(name: str, template: str | None = None) -> None:
    if not template:
        await admin_execute(f'CREATE DATABASE "{name}"')
        return
    # Copying needs the template to be unused; a pooler (PgBouncer) may still hold idle server connections to it
    await admin_execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{template}' AND pid <> pg_backend_pid()"
    )
    await admin_execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


async def drop_database(name: str) -> None:
    await admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def scratch_database(app_url: str, template: str | None = None) -> AbstractAsyncContextManager[str]:
    """A new, empty (or template-copied) database on the app's server; dropped on exit. Yields its URL."""
    return scratch_database_on(create_database, drop_database, app_url, template)
