"""Throwaway databases on a database server (PostgreSQL, MySQL or MariaDB): the part that does not depend on which.

Each database's scratch module says how to create and drop one; this names it, yields its URL and drops it.
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from uuid import uuid4

from sqlalchemy import make_url

Create = Callable[[str, str | None], Awaitable[None]]
Drop = Callable[[str], Awaitable[None]]


@asynccontextmanager
async def scratch_database_on(
    create: Create, drop: Drop, app_url: str, template: str | None = None
) -> AsyncIterator[str]:
    """A new, empty (or template-copied) database on the app's server; dropped on exit. Yields its URL."""
    name = f"scratch_{uuid4().hex[:16]}"
    await create(name, template)
    try:
        yield make_url(app_url).set(database=name).render_as_string(hide_password=False)
    finally:
        await drop(name)
