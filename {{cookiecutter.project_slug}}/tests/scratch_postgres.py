"""Throwaway PostgreSQL databases for the tests, the smoke test and the benchmark, made through ADMIN_DATABASE_URL."""

from contextlib import AbstractAsyncContextManager

from tests.postgres_admin import admin_execute, admin_url, connect
from tests.scratch_server import Schema, TemplateCopies, scratch_database_on, url_of

SCHEMA = """
SELECT 'column', table_name::text, column_name::text, data_type::text, coalesce(column_default, '')
FROM information_schema.columns WHERE table_schema = 'public'
UNION ALL
SELECT 'index', tablename::text, indexname::text, indexdef, '' FROM pg_indexes WHERE schemaname = 'public'
UNION ALL
SELECT 'sequence', sequence_name::text, '', '', '' FROM information_schema.sequences WHERE sequence_schema = 'public'
UNION ALL
SELECT 'version', version_num, '', '', '' FROM alembic_version
ORDER BY 1, 2, 3
"""
APP_TABLES = (
    "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
)


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


async def reset_database(name: str, expected: Schema | None) -> Schema:
    connection = await connect(url_of(admin_url(), name))  # straight to the server, as the admin
    try:
        await connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        schema = [tuple(row) for row in await connection.fetch(SCHEMA)]
        if expected is None or schema == expected:
            await connection.execute("SET lock_timeout = '2s'")  # a lock still held: an error, the copy is dropped
            tables = [row[0] for row in await connection.fetch(APP_TABLES)]
            if tables:
                await connection.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        return schema
    finally:
        await connection.close()


def template_copies(app_url: str, template: str) -> TemplateCopies:
    """Copies of the migrated template lent to one test at a time, emptied between tests."""
    return TemplateCopies(create_database, drop_database, reset_database, app_url, template)


def scratch_database(app_url: str, template: str | None = None) -> AbstractAsyncContextManager[str]:
    """A new, empty (or template-copied) database on the app's server; dropped on exit. Yields its URL."""
    return scratch_database_on(create_database, drop_database, app_url, template)
