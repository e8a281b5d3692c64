from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import func, select

from {{ cookiecutter.package_name }}.db import SessionDep
from {{ cookiecutter.package_name }}.models import Note


class Boom(RuntimeError):
    pass


async def test_error_after_a_write_rolls_back_and_returns_the_connection(app: FastAPI) -> None:
    @app.post("/explode")
    async def explode(session: SessionDep) -> None:
        session.add(Note(title="never stored"))
        await session.flush()
        raise Boom

    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/explode")
    assert response.status_code == 500
    assert app.state.engine.pool.checkedout() == 0
    async with app.state.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Note)) == 0
