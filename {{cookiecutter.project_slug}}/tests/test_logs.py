"""LOG_FORMAT: json lines with a request id, route, status and duration (the password masking in both formats:
test_postgres_log_masking.py)."""

import json
from pathlib import Path

import pytest
from httpx import AsyncClient

from {{ cookiecutter.package_name }}.settings import ConfigurationError, Settings, get_settings

from tests.live_server import request, run_server


def json_lines(output: str) -> list[dict[str, object]]:
    """The output's lines from the first JSON one on (uvicorn prints a few text lines before the app starts)."""
    lines = output.splitlines()
    first = next(index for index, line in enumerate(lines) if line.startswith("{"))
    return [json.loads(line) for line in lines[first:] if line.strip()]


def test_json_logs_one_object_per_line_with_the_request_id(database_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": database_url, "LOG_FORMAT": "json"}
    # with uvicorn's access log on, as serve.py runs it: the request's own line replaces it
    with run_server(env, str(tmp_path / "server.log"), access_log=True) as server:
        reply = request(f"{server.base_url}/items", headers={"X-Request-ID": "order-42"})
        generated = request(f"{server.base_url}/items")
    output = server.output()

    assert reply.status == 200
    assert reply.headers["x-request-id"] == "order-42"
    assert len(generated.headers["x-request-id"]) == 32  # a new uuid4, in hex
    lines = json_lines(output)  # every line from the app's start on parses
    mine = [line for line in lines if line.get("request_id") == "order-42"]
    assert len(mine) == 1, output
    line = mine[0]
    assert {"time", "level", "logger", "message", "route", "status", "duration"} <= line.keys()
    assert (line["level"], line["route"], line["status"], line["client"]) == ("INFO", "/items", 200, "127.0.0.1")
    assert isinstance(line["duration"], float)
    assert line["duration"] >= 0
    assert any(line.get("request_id") == generated.headers["x-request-id"] for line in lines)
    assert any(line["message"] == "Application startup complete." for line in lines)
    assert not any(line["logger"] == "uvicorn.access" for line in lines), output


async def test_unusable_request_ids_are_replaced(client: AsyncClient) -> None:
    response = await client.get("/health/live", headers={"X-Request-ID": "two words\tand a tab"})
    assert response.headers["x-request-id"] != "two words\tand a tab"
    assert len(response.headers["x-request-id"]) == 32


def test_a_bad_log_format_is_refused_with_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_FORMAT", "yaml")
    get_settings.cache_clear()
    try:
        with pytest.raises(ConfigurationError, match=r"LOG_FORMAT='yaml'.*'text' or 'json'"):
            get_settings()
    finally:
        get_settings.cache_clear()
    monkeypatch.setenv("LOG_FORMAT", " JSON ")
    assert Settings(_env_file=None).log_format == "json"
