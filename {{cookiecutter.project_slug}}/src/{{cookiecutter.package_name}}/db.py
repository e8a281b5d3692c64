"""The engine, its connection pool and the per-request session."""

import asyncio
import logging
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from starlette.types import ASGIApp, Receive, Scope, Send

from {{ cookiecutter.package_name }} import {{ cookiecutter.__driver_module }} as backend
from {{ cookiecutter.package_name }}.settings import Settings

logger = logging.getLogger(__name__)

SIZING_CHECK_TIMEOUT_SECONDS = 10


def build_engine(settings: Settings) -> AsyncEngine:
    """An engine whose pool is sized and tuned by the settings; no connection is opened yet."""
    engine = create_async_engine(
        settings.database_url,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_timeout=settings.pool_timeout,
        pool_recycle=settings.pool_recycle,
        pool_pre_ping=settings.pool_pre_ping,
        connect_args=backend.connect_args(settings),
    )
    backend.prepare_engine(engine, settings)
    return engine


def build_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: objects returned by a route stay readable after its commit
    return async_sessionmaker(engine, expire_on_commit=False)


SESSION_SCOPE_KEY = "{{ cookiecutter.package_name }}.session"


async def get_session(request: Request) -> AsyncSession:
    """The request's session, made on first use. SessionMiddleware closes it when the request is done, which rolls
    back whatever was not committed (also when the route raised) and returns its connection to the pool."""
    session = request.scope.get(SESSION_SCOPE_KEY)
    if session is None:
        session = request.scope[SESSION_SCOPE_KEY] = request.app.state.sessionmaker()
    return session


class SessionMiddleware:
    """Pure ASGI: closes the session get_session made for the request, after the route, the exception handlers and
    the response, whether or not the route raised.

    It replaces a `yield` dependency, which FastAPI runs inside an exit stack and a shielded cancel scope: about a
    fifth of the CPU time of a request like GET /items. The session's close is itself shielded from cancellation.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            session = scope.pop(SESSION_SCOPE_KEY, None)
            if session is not None:
                await session.close()


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def check_pool_sizing(engine: AsyncEngine, settings: Settings) -> str | None:
    """The start-up sizing warning (logged by the backend), or None; never raises, so a database that is
    down at start-up delays nothing: /health/ready reports it."""
    try:
        async with asyncio.timeout(SIZING_CHECK_TIMEOUT_SECONDS):
            return await backend.check_pool_sizing(engine, settings, settings.workers)
    except Exception as exc:  # any failure only means "not checked"
        logger.info("pool sizing not checked, the database did not answer: %s", type(exc).__name__)
        return None


def describe_pool(engine: AsyncEngine) -> dict[str, object]:
    """How the engine is wired and how busy its pool is, read from the live objects (no secrets)."""
    pool = engine.pool
    return {
        "dialect": engine.dialect.name,
        "driver": engine.dialect.driver,
        "url": engine.url.render_as_string(hide_password=True),
        "pool": {
            "class": type(pool).__name__,
            "size": pool.size(),
            "max_overflow": pool._max_overflow,
            "timeout": pool.timeout(),
            "recycle": pool._recycle,
            "pre_ping": pool._pre_ping,
            "checked_out": pool.checkedout(),
            "checked_in": pool.checkedin(),
            "overflow": pool.overflow(),
        },
    }
