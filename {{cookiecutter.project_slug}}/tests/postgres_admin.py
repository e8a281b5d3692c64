"""Direct access to the PostgreSQL server for tests that inspect it (pg_stat_activity), bypassing any pooler."""

import asyncpg
from sqlalchemy import make_url

from {{ cookiecutter.package_name }}.postgres import admin_url


async def admin_connect() -> asyncpg.Connection:
    """A plain asyncpg connection to the admin database (ADMIN_DATABASE_URL), straight to the server."""
    url = make_url(admin_url())
    return await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, database=url.database, timeout=5
    )


async def admin_fetch(query: str, *args: object) -> list[asyncpg.Record]:
    connection = await admin_connect()
    try:
        return await connection.fetch(query, *args)
    finally:
        await connection.close()


def direct_url(database_url: str) -> str:
    """The same database reached directly rather than through a pooler such as PgBouncer."""
    admin = make_url(admin_url())
    return make_url(database_url).set(host=admin.host, port=admin.port).render_as_string(hide_password=False)
