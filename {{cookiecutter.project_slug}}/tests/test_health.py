from collections.abc import AsyncIterator

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import make_url

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.settings import Settings


def unreachable_url(server_url: str, tmp_path) -> str:
    url = make_url(server_url)
    if url.get_backend_name() == "sqlite":
        # a file in a folder that does not exist cannot be opened
        return url.set(database=str(tmp_path / "missing" / "db.sqlite")).render_as_string(hide_password=False)
    return url.set(host="127.0.0.1", port=1).render_as_string(hide_password=False)  # nothing listens on port 1


@pytest.fixture
async def unreachable_db_client(server_url: str, tmp_path) -> AsyncIterator[AsyncClient]:
    app = create_app(Settings(_env_file=None, database_url=unreachable_url(server_url, tmp_path), pool_timeout=2))
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client,
    ):
        yield client


async def test_live_is_ok_without_touching_the_database(unreachable_db_client: AsyncClient) -> None:
    response = await unreachable_db_client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_reports_the_pool(client: AsyncClient, settings: Settings) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["pool"]["size"] == settings.pool_size
    assert body["database"]["pool"]["checked_out"] == 0


async def test_ready_is_503_when_database_is_unreachable(unreachable_db_client: AsyncClient) -> None:
    response = await unreachable_db_client.get("/health/ready")
    assert response.status_code == 503
    assert "database unreachable" in response.json()["detail"]


async def test_items_is_503_not_500_when_database_is_unreachable(unreachable_db_client: AsyncClient) -> None:
    response = await unreachable_db_client.get("/items")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert "database" in response.json()["detail"]
