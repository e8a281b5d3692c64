"""Database failures become clean 503 answers, in one place rather than in every route."""

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from {{ cookiecutter.package_name }}.metrics import record_pool_timeout

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 1


def unavailable(reason: str) -> JSONResponse:
    return JSONResponse(
        {"detail": reason},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def is_connection_failure(exc: BaseException) -> bool:
    """True when the database could not be reached or the connection broke, not when a query was wrong."""
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)
    return isinstance(exc, OSError | TimeoutError)


async def _pool_exhausted(request: Request, exc: Exception) -> JSONResponse:
    logger.warning("pool exhausted on %s %s", request.method, request.url.path)
    record_pool_timeout(request.app)
    return unavailable("database busy: no pooled connection became free in time, retry shortly")


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    if not is_connection_failure(exc):
        raise exc
    logger.warning("database unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return unavailable("database unavailable, retry shortly")


def add_database_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(PoolTimeoutError, _pool_exhausted)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(ConnectionError, _database_error)
