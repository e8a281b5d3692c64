import asyncio

from fastapi import FastAPI, HTTPException
from httpx import ASGITransport, AsyncClient
from sqlalchemy import func, select, text
from starlette.types import Message

from {{ cookiecutter.package_name }}.db import SessionDep
from {{ cookiecutter.package_name }}.models import Note


async def count_notes(app: FastAPI) -> int:
    async with app.state.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Note)) or 0)


async def test_session_rolls_back_when_a_handled_error_ends_the_request(app: FastAPI) -> None:
    @app.post("/refuse")
    async def refuse(session: SessionDep) -> None:
        session.add(Note(title="never stored"))
        await session.flush()
        raise HTTPException(409, "refused after a write")

    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
        response = await client.post("/refuse")

    assert response.status_code == 409
    assert app.state.engine.pool.checkedout() == 0
    assert await count_notes(app) == 0


async def test_session_is_shared_by_the_dependencies_of_one_request(app: FastAPI) -> None:
    @app.get("/same")
    async def same(first: SessionDep, second: SessionDep) -> dict[str, bool]:
        return {"same": first is second}

    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
        response = await client.get("/same")

    assert response.json() == {"same": True}


async def test_session_commit_keeps_the_write_and_returns_the_connection(app: FastAPI) -> None:
    @app.post("/keep")
    async def keep(session: SessionDep) -> None:
        session.add(Note(title="kept"))
        await session.commit()

    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
        response = await client.post("/keep")

    assert response.status_code == 200
    assert app.state.engine.pool.checkedout() == 0
    assert await count_notes(app) == 1


async def test_session_of_a_cancelled_request_returns_its_connection(app: FastAPI) -> None:
    holding = asyncio.Event()

    @app.get("/hold")
    async def hold(session: SessionDep) -> None:
        await session.execute(text("SELECT 1"))
        holding.set()
        await asyncio.sleep(60)

    async def receive() -> Message:
        await asyncio.sleep(60)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        pass

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/hold",
        "raw_path": b"/hold",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test")],
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
    }
    request = asyncio.create_task(app(scope, receive, send))
    await asyncio.wait_for(holding.wait(), 10)
    assert app.state.engine.pool.checkedout() == 1
    request.cancel()
    await asyncio.gather(request, return_exceptions=True)

    assert app.state.engine.pool.checkedout() == 0
