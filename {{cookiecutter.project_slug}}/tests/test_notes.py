import pytest
from httpx import AsyncClient


async def create(client: AsyncClient, title: str = "groceries", body: str = "milk") -> dict:
    response = await client.post("/notes", json={"title": title, "body": body})
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_then_get_returns_the_note(client: AsyncClient) -> None:
    note = await create(client)
    response = await client.get(f"/notes/{note['id']}")
    assert response.status_code == 200
    assert response.json() == note
    assert note["title"] == "groceries"
    assert note["created_at"]


async def test_list_pages_with_limit_and_offset(client: AsyncClient) -> None:
    ids = [(await create(client, title=f"n{i}"))["id"] for i in range(5)]
    response = await client.get("/notes", params={"limit": 2, "offset": 1})
    assert response.status_code == 200
    assert [note["id"] for note in response.json()] == ids[1:3]


async def test_update_changes_only_the_given_fields(client: AsyncClient) -> None:
    note = await create(client)
    response = await client.patch(f"/notes/{note['id']}", json={"body": "eggs"})
    assert response.status_code == 200
    assert response.json()["title"] == "groceries"
    assert response.json()["body"] == "eggs"
    assert (await client.get(f"/notes/{note['id']}")).json()["body"] == "eggs"


async def test_delete_removes_the_note(client: AsyncClient) -> None:
    note = await create(client)
    response = await client.delete(f"/notes/{note['id']}")
    assert response.status_code == 204
    assert (await client.get(f"/notes/{note['id']}")).status_code == 404


@pytest.mark.parametrize(("method", "body"), [("GET", None), ("PATCH", {"title": "x"}), ("DELETE", None)])
async def test_missing_note_is_404(client: AsyncClient, method: str, body: dict | None) -> None:
    response = await client.request(method, "/notes/424242", json=body)
    assert response.status_code == 404
    assert response.json()["detail"] == "note 424242 not found"


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"title": ""},
        {"title": "x" * 201},
        {"title": "ok", "body": "x" * 10_001},
        {"title": "nul\x00byte"},
        {"title": 12},
        {"title": "ok", "unknown": 1},
    ],
    ids=["missing-title", "empty-title", "long-title", "long-body", "nul-byte", "not-a-string", "unknown-field"],
)
async def test_create_rejects_bad_bodies_with_422(client: AsyncClient, payload: dict) -> None:
    response = await client.post("/notes", json=payload)
    assert response.status_code == 422


async def test_update_needs_at_least_one_field(client: AsyncClient) -> None:
    note = await create(client)
    response = await client.patch(f"/notes/{note['id']}", json={})
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/notes", {"limit": 0}),
        ("/notes", {"limit": 101}),
        ("/notes", {"offset": -1}),
        ("/notes", {"offset": 2**63}),
        ("/notes/0", {}),
        ("/notes/99999999999999999999", {}),
        ("/notes/abc", {}),
    ],
)
async def test_out_of_range_parameters_are_422(client: AsyncClient, path: str, params: dict) -> None:
    response = await client.get(path, params=params)
    assert response.status_code == 422
