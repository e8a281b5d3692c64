import asyncio
from typing import Any

from fastapi import FastAPI, HTTPException, Request, status
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from {{ cookiecutter.package_name }}.db import describe_pool
from {{ cookiecutter.package_name }}.schemas import Readiness

READY_TIMEOUT_SECONDS = 5
NOT_READY: dict[int | str, dict[str, Any]] = {503: {"description": "The database cannot be reached"}}


async def live() -> dict[str, str]:
    """The process is up and serving; says nothing about the database."""
    return {"status": "ok"}


async def ready(request: Request) -> Readiness:
    """Runs a query through the pool; 503 with the reason while the database is unreachable."""
    engine = request.app.state.engine
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        reason = f"database unreachable: {type(exc).__name__}"
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, reason, headers={"Retry-After": "1"}) from None
    return Readiness(status="ok", database=describe_pool(engine))


def add_routes(app: FastAPI) -> None:
    app.add_api_route("/health/live", live, methods=["GET"], tags=["health"])
    app.add_api_route("/health/ready", ready, methods=["GET"], tags=["health"], responses=NOT_READY)
