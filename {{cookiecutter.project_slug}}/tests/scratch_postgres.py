"""Throwaway PostgreSQL databases for the tests, the smoke test and the benchmark, made through ADMIN_DATABASE_URL."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import uuid4

from sqlalchemy import make_url

from tests.postgres_admin import admin_execute


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


@asynccontextmanager
async def scratch_database(app_url: str, template: str | None = None) -> AsyncIterator[str]:
    """A new, empty (or template-copied) database on the app's server; dropped on exit. Yields its URL."""
    name = f"scratch_{uuid4().hex[:16]}"
    await create_database(name, template)
    try:
        yield make_url(app_url).set(database=name).render_as_string(hide_password=False)
    finally:
        await drop_database(name)
