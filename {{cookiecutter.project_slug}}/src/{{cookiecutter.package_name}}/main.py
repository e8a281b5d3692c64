"""The application: create_app() builds it, lifespan owns the engine."""

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from {{ cookiecutter.package_name }}.api import health, items, notes
from {{ cookiecutter.package_name }}.body_limit import install_body_limit
from {{ cookiecutter.package_name }}.cors import install_cors
from {{ cookiecutter.package_name }}.db import (
    Reader,
    SessionRelease,
    build_engine,
    build_sessionmaker,
    check_pool_sizing,
)
from {{ cookiecutter.package_name }}.errors import add_error_handlers
from {{ cookiecutter.package_name }}.logs import RequestIdMiddleware, configure_logging
from {{ cookiecutter.package_name }}.metrics import install_metrics, stop_metrics, watch_pool
from {{ cookiecutter.package_name }}.redaction import install_log_masking
from {{ cookiecutter.package_name }}.settings import APP_NAME, Settings, get_settings
from {{ cookiecutter.package_name }}.tracing import start_tracing, stop_tracing


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Built here, not at import: each worker process gets its own engine and pool
    settings: Settings = app.state.settings or get_settings()
    install_log_masking(settings.database_url)
    configure_logging(settings.log_format)
    engine = build_engine(settings, pooled=app.state.pooled)
    watch_pool(app, engine.pool, settings.pool_timeout)
    start_tracing(app, engine, settings)  # after watch_pool: its checkout-wait observer is kept
    app.state.engine = engine
    app.state.sessionmaker = build_sessionmaker(engine)
    app.state.reader = Reader(engine, settings)  # the read path (ReaderDep), on the same pool
    # in the background: start-up neither waits for the database nor fails when it is down
    app.state.pool_sizing_check = asyncio.create_task(check_pool_sizing(engine, settings))
    # what start-up made lives as long as the process: kept out of the cyclic garbage collector's full collections,
    # which then walk only what requests create (the README's benchmark section has the measurement)
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
        # awaited, not cancelled: it ends on its own within SIZING_CHECK_TIMEOUT_SECONDS, and a driver cancelled while
        # it opens a connection may leave an error on a future nobody reads ("Future exception was never retrieved")
        await asyncio.gather(app.state.pool_sizing_check, return_exceptions=True)
        await stop_metrics(app)
        stop_tracing(app)
        await engine.dispose()


def create_app(settings: Settings | None = None, pooled: bool = True) -> FastAPI:
    """The service; pass settings to override the environment (tests do); pooled=False: NullPool (the benchmark)."""
    app = FastAPI(title=settings.app_name if settings else APP_NAME, lifespan=lifespan)
    app.state.settings = settings
    app.state.pooled = pooled
    add_error_handlers(app)
    app.add_middleware(SessionRelease)  # the innermost: sessions are released before the outer layers finish
    install_body_limit(app, settings)
    install_cors(app, settings)
    install_metrics(app)
    app.add_middleware(RequestIdMiddleware)  # added last: runs first, so every later log line has the request id
    # on the app's own router, not include_router: FastAPI (0.16x) matches an included router's routes through
    # extra layers on every request, a CPU cost per request as large as a middleware's
    for module in (items, notes, health):
        module.add_routes(app)
    return app


app = create_app()
