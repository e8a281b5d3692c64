"""Throwaway databases on a database server (PostgreSQL, MySQL or MariaDB): the part that does not depend on which.

Each database's scratch module says how to create, inspect, empty and drop one; this names it, yields its URL and
drops it, or keeps a copy of the migrated template for the next test once it is emptied.
"""

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any
from uuid import uuid4

from sqlalchemy import make_url

Create = Callable[[str, str | None], Awaitable[None]]
Drop = Callable[[str], Awaitable[None]]
Schema = Sequence[Any]  # a database's tables, columns, indexes and migration version, as rows
# Ends every other connection to the named database (as DROP ... WITH (FORCE) would) and reads its schema; when that
# is the expected one (or None is expected), empties every table but alembic_version, counters back at 1
Reset = Callable[[str, Schema | None], Awaitable[Schema]]


def new_name() -> str:
    return f"scratch_{uuid4().hex[:16]}"


def url_of(app_url: str, name: str) -> str:
    return make_url(app_url).set(database=name).render_as_string(hide_password=False)


@asynccontextmanager
async def scratch_database_on(
    create: Create, drop: Drop, app_url: str, template: str | None = None
) -> AsyncIterator[str]:
    """A new, empty (or template-copied) database on the app's server; dropped on exit. Yields its URL."""
    name = new_name()
    await create(name, template)
    try:
        yield url_of(app_url, name)
    finally:
        await drop(name)


class TemplateCopies:
    """Copies of the migrated template database, each lent to one test at a time.

    A copy that comes back is emptied and lent again when its schema (tables, columns, indexes, migration version)
    is still the template's, with no connection left on it; any doubt (a test that changed the schema, a lock that
    would not let go) drops it instead. The next test so starts, as with a new copy, from an empty migrated database
    that no other test uses, for a fraction of the cost of creating and dropping one.
    """

    def __init__(self, create: Create, drop: Drop, reset: Reset, app_url: str, template: str) -> None:
        self.create, self.drop, self.reset = create, drop, reset
        self.app_url, self.template = app_url, template
        self.schema: Schema | None = None  # the template's, read from the first copy as it is made
        self.free: list[str] = []

    @asynccontextmanager
    async def lend(self) -> AsyncIterator[str]:
        name = self.free.pop() if self.free else await self._copy()
        try:
            yield url_of(self.app_url, name)
        finally:
            await self._take_back(name)

    async def _copy(self) -> str:
        name = new_name()
        await self.create(name, self.template)
        if self.schema is None:
            self.schema = await self.reset(name, None)
        return name

    async def _take_back(self, name: str) -> None:
        try:
            emptied = await self.reset(name, self.schema) == self.schema
        except Exception:  # not known to be clean: dropped like a copy whose schema changed
            emptied = False
        if emptied:
            self.free.append(name)
        else:
            await self.drop(name)

    async def close(self) -> None:
        while self.free:
            await self.drop(self.free.pop())
