"""Fixtures: every test gets its own freshly migrated database on the variant's real database server."""

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import make_url

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.redaction import mask_url
from {{ cookiecutter.package_name }}.settings import Settings

from tests.loop_errors import recorded_loop_errors
from tests.migrate import upgrade
from tests.scratch_{{ cookiecutter.__driver_module }} import TemplateCopies, scratch_database, template_copies


@pytest.fixture(scope="session", autouse=True)
def no_loop_errors() -> Iterator[None]:
    """Fails the run when an event loop logged an error, such as a future whose exception nobody retrieved, that
    would otherwise show up only after the summary (or not at all)."""
    with recorded_loop_errors() as errors:
        yield
        logged = errors.collected()
    if logged:
        pytest.fail(f"the event loop logged {len(logged)} error(s):\n" + "\n".join(logged), pytrace=False)


@pytest.fixture(scope="session")
def server_url() -> str:
    """The configured database server (DATABASE_URL or the render-time default); tests make their own databases on it."""
    return Settings(_env_file=None).database_url


@pytest.fixture(scope="session")
async def migrated_template(server_url: str) -> AsyncIterator[str]:
    """A database migrated once per run; each test gets a copy of it."""
    async with AsyncExitStack() as stack:
        try:
            url = await stack.enter_async_context(scratch_database(server_url))
        except OSError as error:
            pytest.fail(
                f"the test database server is unreachable ({mask_url(server_url)}: {error}); start it, "
                "or point DATABASE_URL / ADMIN_DATABASE_URL at one",
                pytrace=False,
            )
        await asyncio.to_thread(upgrade, url)
        yield str(make_url(url).database)


@pytest.fixture
async def empty_database_url(server_url: str) -> AsyncIterator[str]:
    async with scratch_database(server_url) as url:
        yield url


@pytest.fixture(scope="session")
async def migrated_copies(server_url: str, migrated_template: str) -> AsyncIterator[TemplateCopies]:
    """Copies of the migrated template, lent to one test at a time (emptied between tests where that is cheaper
    than a new copy)."""
    copies = template_copies(server_url, migrated_template)
    try:
        yield copies
    finally:
        await copies.close()


@pytest.fixture
async def database_url(migrated_copies: TemplateCopies) -> AsyncIterator[str]:
    """An empty, migrated database of this test's own."""
    async with migrated_copies.lend() as url:
        yield url


@pytest.fixture(scope="module")
async def module_database_url(server_url: str, migrated_template: str) -> AsyncIterator[str]:
    """A copy of the migrated template shared by one module's tests (for a server they share: tests that only read,
    or that do not depend on what the others wrote)."""
    async with scratch_database(server_url, template=migrated_template) as url:
        yield url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(_env_file=None, database_url=database_url)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The app with its real lifespan running: engine built on entry, disposed on exit."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
        yield client
