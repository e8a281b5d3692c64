"""A connection that fails with a password in DATABASE_URL logs no password, in either LOG_FORMAT (SQLite URLs
carry no password)."""

from pathlib import Path

import pytest
from sqlalchemy import make_url

from tests.live_server import request, run_server
from tests.test_logs import json_lines

PASSWORD = "Pw-In-The-Url-7f3a"


def failing_url(server_url: str) -> str:
    """The database URL with a password, pointing where nothing listens (port 1)."""
    url = make_url(server_url).set(username="app", password=PASSWORD, host="127.0.0.1", port=1)
    return url.render_as_string(hide_password=False)


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_failing_connection_logs_no_password(server_url: str, tmp_path: Path, log_format: str) -> None:
    env = {"DATABASE_URL": failing_url(server_url), "LOG_FORMAT": log_format, "POOL_TIMEOUT": "2"}
    with run_server(env, str(tmp_path / "server.log")) as server:
        statuses = [request(f"{server.base_url}{path}").status for path in ("/items", "/health/ready")]
    output = server.output()

    assert statuses == [503, 503]
    assert "503 for GET /items" in output  # the failure was logged
    assert PASSWORD not in output
    if log_format == "json":
        assert any(str(line["message"]).startswith("503 for GET /items") for line in json_lines(output))
