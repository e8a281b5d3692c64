from httpx import AsyncClient

from tests.live_server import request, run_server


async def test_items_returns_number_one(client: AsyncClient) -> None:
    response = await client.get("/items")
    assert response.status_code == 200
    assert response.json() == {"number": 1}


def test_items_under_a_real_uvicorn_server(database_url: str, tmp_path) -> None:
    with run_server({"DATABASE_URL": database_url}, str(tmp_path / "server.log")) as server:
        reply = request(f"{server.base_url}/items")
    assert reply.status == 200
    assert reply.json() == {"number": 1}
    assert "Application shutdown complete" in server.output()
