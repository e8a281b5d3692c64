"""Throwaway MySQL or MariaDB databases for the tests, the smoke test and the benchmark, made through
ADMIN_DATABASE_URL."""

from contextlib import AbstractAsyncContextManager

from tests.mysql_admin import admin_execute, admin_fetch, admin_kill, admin_url, connect, connection_ids
from tests.scratch_server import Schema, TemplateCopies, scratch_database_on

# the tables a template database holds are copied by CREATE TABLE ... LIKE and INSERT ... SELECT (MySQL has no
# CREATE DATABASE ... TEMPLATE)
CREATE = "CREATE DATABASE `{}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
SCHEMA = """
SELECT 'column', table_name, column_name, column_type, coalesce(column_default, '')
FROM information_schema.columns WHERE table_schema = %s
UNION ALL
SELECT 'index', table_name, index_name, column_name, seq_in_index FROM information_schema.statistics WHERE table_schema = %s
ORDER BY 1, 2, 3, 4
"""
APP_TABLES = (
    "SELECT table_name FROM information_schema.tables "
    "WHERE table_schema = %s AND table_type = 'BASE TABLE' AND table_name <> 'alembic_version'"
)


async def create_database(name: str, template: str | None = None) -> None:
    await admin_execute(CREATE.format(name))
    if not template:
        return
    tables = await admin_fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_type = 'BASE TABLE'",
        template,
    )
    for (table,) in tables:
        await admin_execute(f"CREATE TABLE `{name}`.`{table}` LIKE `{template}`.`{table}`")
        await admin_execute(f"INSERT INTO `{name}`.`{table}` SELECT * FROM `{template}`.`{table}`")


async def end_connections(name: str) -> None:
    for connection_id in await connection_ids(name):
        await admin_kill(connection_id)


async def drop_database(name: str) -> None:
    # like PostgreSQL's DROP DATABASE ... WITH (FORCE): a connection still open on it would hold the drop
    await end_connections(name)
    await admin_execute(f"DROP DATABASE IF EXISTS `{name}`")


async def reset_database(name: str, expected: Schema | None) -> Schema:
    await end_connections(name)
    connection = await connect(admin_url())
    try:
        async with connection.cursor() as cursor:
            await cursor.execute(SCHEMA, (name, name))
            schema = [tuple(row) for row in await cursor.fetchall()]
            await cursor.execute(f"SELECT version_num FROM `{name}`.alembic_version ORDER BY 1")
            schema += [("version", *row) for row in await cursor.fetchall()]
            if expected is None or schema == expected:
                await cursor.execute("SET SESSION lock_wait_timeout = 2, SESSION foreign_key_checks = 0")
                await cursor.execute(APP_TABLES, (name,))
                for (table,) in await cursor.fetchall():
                    await cursor.execute(f"TRUNCATE TABLE `{name}`.`{table}`")  # AUTO_INCREMENT back at 1 too
        return schema
    finally:
        await connection.ensure_closed()


def template_copies(app_url: str, template: str) -> TemplateCopies:
    """Copies of the migrated template lent to one test at a time, emptied between tests."""
    return TemplateCopies(create_database, drop_database, reset_database, app_url, template)


def scratch_database(app_url: str, template: str | None = None) -> AbstractAsyncContextManager[str]:
    """A new, empty (or template-copied) database on the app's server; dropped on exit. Yields its URL."""
    return scratch_database_on(create_database, drop_database, app_url, template)
