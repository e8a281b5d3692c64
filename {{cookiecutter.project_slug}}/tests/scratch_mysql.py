"""Throwaway MySQL or MariaDB databases for the tests, the smoke test and the benchmark, made through
ADMIN_DATABASE_URL."""

from contextlib import AbstractAsyncContextManager

from tests.mysql_admin import admin_execute, admin_fetch, admin_kill, connection_ids
from tests.scratch_server import scratch_database_on

# the tables a template database holds are copied by CREATE TABLE ... LIKE and INSERT ... SELECT (MySQL has no
# CREATE DATABASE ... TEMPLATE)
CREATE = "CREATE DATABASE `{}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"


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


async def drop_database(name: str) -> None:
    # like PostgreSQL's DROP DATABASE ... WITH (FORCE): a connection still open on it would hold the drop
    for connection_id in await connection_ids(name):
        await admin_kill(connection_id)
    await admin_execute(f"DROP DATABASE IF EXISTS `{name}`")


def scratch_database(app_url: str, template: str | None = None) -> AbstractAsyncContextManager[str]:
    """A new, empty (or template-copied) database on the app's server; dropped on exit. Yields its URL."""
    return scratch_database_on(create_database, drop_database, app_url, template)
