"""Errors become clean answers in one place: database failures 503, invalid requests 422.

Anything else is a bug in a route and stays a 500 (with its traceback in the log).
"""

import json
import logging

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from {{ cookiecutter.package_name }}.metrics import record_pool_timeout
from {{ cookiecutter.package_name }}.pool import PoolDisposedError

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 1
BUSY = "database busy: no pooled connection became free in time, retry shortly"
UNAVAILABLE = "database unavailable, retry shortly"


def unavailable(reason: str) -> JSONResponse:
    return JSONResponse({"detail": reason}, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def is_connection_failure(exc: BaseException) -> bool:
    """True when the database could not be reached or the connection broke, not when a query was wrong."""
    if isinstance(exc, PoolDisposedError):  # the engine was disposed (shutting down) while the request waited
        return True
    if isinstance(exc, DBAPIError):
        # statement is None: no query failed, the connection did, e.g. while connecting (refused, bad
        # credentials, no such database) or on COMMIT/ROLLBACK; a retry later is the right advice for both
        return exc.connection_invalidated or exc.statement is None or isinstance(exc, OperationalError)
    # drivers may raise OSError subclasses as they are while connecting: refused, unknown host, connect timeout
    return isinstance(exc, OSError)


async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """503 + Retry-After for an exhausted pool or an unreachable database; anything else stays a 500."""
    if isinstance(exc, PoolTimeoutError):
        record_pool_timeout(request.app)
        reason = BUSY
    elif is_connection_failure(exc):
        reason = UNAVAILABLE
    else:
        raise exc
    # First line only: the rest quotes the statement and its parameters (user data)
    summary = next(iter(str(exc).splitlines()), "")
    logger.warning("503 for %s %s: %s: %.200s", request.method, request.url.path, type(exc).__name__, summary)
    return unavailable(reason)


async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
    """422 listing what is wrong; the rejected input is echoed back ASCII-escaped.

    FastAPI's own handler encodes the echo as UTF-8, which fails with a 500 on a lone surrogate ("\\ud800")
    that JSON allows in a request body.
    """
    body = json.dumps({"detail": jsonable_encoder(exc.errors())}, ensure_ascii=True)
    return Response(body, status_code=422, media_type="application/json")


async def unreadable_body(request: Request, exc: StarletteHTTPException) -> Response:
    """FastAPI answers a body it cannot decode (not UTF-8) with a 400 that no route documents: make it the 422
    that invalid input gets everywhere else, saying why. Every other HTTP error keeps FastAPI's answer."""
    if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
        error = {"type": "json_invalid", "loc": ["body"], "msg": "the body is not valid UTF-8 JSON", "input": None}
        return await invalid_request(request, RequestValidationError([error]))
    return await http_exception_handler(request, exc)


def add_error_handlers(app: FastAPI) -> None:
    # One handler for every class that can carry "the database is not there right now"
    for exception_class in (PoolTimeoutError, PoolDisposedError, DBAPIError, OSError):
        app.add_exception_handler(exception_class, database_unavailable)
    app.add_exception_handler(RequestValidationError, invalid_request)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, unreadable_body)  # type: ignore[arg-type]
