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


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"title": "unterminated', "application/json"),
        (b"[]", "application/json"),
        (b"null", "application/json"),
        (b'"just a string"', "application/json"),
        (b'{"title": "lone \\ud800 surrogate"}', "application/json"),
        (b'{"title": "ok", "body": ' + b'"' + b"x" * 1_000_000 + b'"}', "application/json"),
        (b'{"title": {"nested": {"deeper": [1, 2, 3]}}}', "application/json"),
        (b"title=form-encoded", "application/x-www-form-urlencoded"),
        (b"\xff\xfe not utf-8", "application/json"),
    ],
    ids=["truncated-json", "array", "null", "string", "lone-surrogate", "megabyte-body", "nested-object",
         "form-encoded", "not-utf8"],
)  # fmt: skip
async def test_create_rejects_malformed_bodies_with_422(client: AsyncClient, content: bytes, content_type: str) -> None:
    response = await client.post("/notes", content=content, headers={"Content-Type": content_type})
    assert response.status_code == 422
    assert response.json()["detail"]


@pytest.mark.parametrize(
    "payload",
    [{}, {"title": None, "body": None}, {"title": ""}, {"body": "x" * 10_001}, {"title": "t", "id": 5}],
    ids=["empty", "all-null", "empty-title", "long-body", "read-only-field"],
)
async def test_update_rejects_bad_bodies_with_422(client: AsyncClient, payload: dict) -> None:
    note = await create(client)
    response = await client.patch(f"/notes/{note['id']}", json=payload)
    assert response.status_code == 422
    assert (await client.get(f"/notes/{note['id']}")).json() == note


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
        ("/notes", {"limit": "abc"}),
        ("/notes", {"limit": "1.5"}),
        ("/notes", {"limit": "1e309"}),
        ("/notes", {"offset": "NaN"}),
        ("/notes/-1", {}),
        ("/notes/1.5", {}),
        ("/notes/2147483648", {}),
        ("/notes/%ED%A0%80", {}),
        ("/notes/%00", {}),
    ],
)
async def test_out_of_range_parameters_are_422(client: AsyncClient, path: str, params: dict) -> None:
    response = await client.get(path, params=params)
    assert response.status_code == 422


NOT_UTF8_JSON = b'{"title": "\xc3\x28"}'  # \xc3 starts a two-byte UTF-8 sequence that "(" cannot continue


async def test_every_route_with_a_body_answers_an_unreadable_one_with_a_documented_422(client: AsyncClient) -> None:
    """The answer, the OpenAPI schema and the README agree: input that cannot be read is a 422, never a 400."""
    note = await create(client)
    schema = (await client.get("/openapi.json")).json()
    routes = [
        (method, path)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation
    ]
    assert routes == [("post", "/notes"), ("patch", "/notes/{note_id}")]
    for method, path in routes:
        url = path.replace("{note_id}", str(note["id"]))
        response = await client.request(
            method, url, content=NOT_UTF8_JSON, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422, (method, path, response.text)
        assert response.json()["detail"][0]["msg"] == "the body is not valid UTF-8 JSON"
        assert set(schema["paths"][path][method]["responses"]) >= {"422"}
        assert "400" not in schema["paths"][path][method]["responses"]
