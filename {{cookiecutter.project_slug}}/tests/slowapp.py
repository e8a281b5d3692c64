"""A test-only app: the service plus routes that hold a connection, fail on purpose, or leak a secret into an error.

Started as a real server with `uvicorn --factory tests.slowapp:create_slow_app` (see run_slow_server).
"""

import asyncio
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Query
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from {{ cookiecutter.package_name }}.db import ReaderDep, SessionDep
from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.models import Note
from {{ cookiecutter.package_name }}.settings import get_settings

from tests.live_server import Server, request, run_server

PROJECT_ROOT = Path(__file__).resolve().parents[1]
FACTORY = "tests.slowapp:create_slow_app"
FAIL_EVERY = 10  # /flaky/{n} raises when n is a multiple of this: 10% of requests


class PlannedFailure(RuntimeError):
    """Raised by /flaky after it used the session, to prove the session is still cleaned up."""


def add_fault_routes(app: FastAPI) -> None:
    holding = {"count": 0}

    @app.get("/slow")
    async def hold_connection(session: SessionDep, seconds: Annotated[float, Query(gt=0, le=30)] = 1) -> dict:
        """Checks a connection out of the pool and keeps it for `seconds`."""
        await session.execute(text("SELECT 1"))
        holding["count"] += 1
        try:
            await asyncio.sleep(seconds)
        finally:
            holding["count"] -= 1
        return {"held_seconds": seconds}

    @app.get("/slow/holding")
    async def count_holding() -> dict:
        """How many /slow requests hold a connection right now (never touches the database)."""
        return {"holding": holding["count"]}

    async def connected_session(session: SessionDep) -> AsyncIterator[AsyncSession]:
        await session.execute(text("SELECT 1"))  # the connection is checked out while the dependency is set up
        yield session

    @app.get("/slow/dependency")
    async def through_dependency(session: Annotated[AsyncSession, Depends(connected_session)]) -> dict:
        """Needs a connection before the route runs: pool errors surface inside a dependency with yield."""
        return {"in_transaction": session.in_transaction()}

    @app.post("/flaky/{n}")
    async def flaky_write(n: int, session: SessionDep) -> dict:
        """Writes a note in a transaction, then fails for every FAIL_EVERY-th n before committing."""
        session.add(Note(title=f"flaky {n}"))
        await session.flush()
        if n % FAIL_EVERY == 0:
            raise PlannedFailure(f"request {n} fails on purpose")
        await session.commit()
        return {"n": n}

    @app.get("/flaky/read/{n}")
    async def flaky_read(n: int, reader: ReaderDep) -> dict:
        """Reads on the read path; for every FAIL_EVERY-th n the statement itself fails in the database."""
        table = "no_such_table" if n % FAIL_EVERY == 0 else "notes"
        count = (await reader.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
        return {"n": n, "notes": count}

    @app.get("/leak-secret")
    async def leak_secret() -> dict:
        """Raises an error whose message holds the full database URL, as a careless driver error might."""
        raise RuntimeError(f"could not use {get_settings().database_url}")


def observe_shutdown(app: FastAPI) -> None:
    """Print, after the real lifespan has ended, whether the engine was disposed and its pool emptied."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def observed(app: FastAPI) -> AsyncIterator[None]:
        async with inner(app):
            yield
            engine = app.state.engine
            pool = engine.pool
        print(
            f"after shutdown: engine disposed={engine.pool is not pool} "
            f"old pool checked_in={pool.checkedin()} checked_out={pool.checkedout()}",
            flush=True,
        )

    app.router.lifespan_context = observed


def create_slow_app() -> FastAPI:
    app = create_app()
    add_fault_routes(app)
    observe_shutdown(app)
    return app


@contextmanager
def run_slow_server(env: Mapping[str, str], log_path: str) -> Iterator[Server]:
    """The slow app as a real uvicorn server on a free port, importable from any working directory."""
    extra = ("--factory", "--app-dir", str(PROJECT_ROOT))
    with run_server(env, log_path, app=FACTORY, extra_args=extra) as server:
        yield server


def wait_until_holding(server: Server, count: int = 1, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while request(f"{server.base_url}/slow/holding").json() != {"holding": count}:
        if time.monotonic() > deadline:
            raise AssertionError(f"no /slow request held a connection within {timeout} s")
        time.sleep(0.02)


async def send_flaky_requests(app: FastAPI, count: int = 1000, concurrency: int = 10) -> list[int]:
    """Statuses of `count` requests where every FAIL_EVERY-th one fails: in blocks of FAIL_EVERY, POST /flaky/{n}
    (raises after using its session) and GET /flaky/read/{n} (the read path; its statement fails) take turns."""
    add_fault_routes(app)
    limit = asyncio.Semaphore(concurrency)
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://test") as client:

        async def one(n: int) -> int:
            async with limit:
                if (n // FAIL_EVERY) % 2:
                    return (await client.get(f"/flaky/read/{n}")).status_code
                return (await client.post(f"/flaky/{n}")).status_code

        return await asyncio.gather(*(one(n) for n in range(1, count + 1)))
