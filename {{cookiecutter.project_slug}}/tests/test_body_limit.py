"""MAX_BODY_SIZE over real HTTP: a body over the limit gets 413 before the service reads past the limit, whether it
declares its Content-Length or arrives in chunks; raw sockets, so the client controls exactly what is sent."""

import json
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.live_server import Server, request, run_server

LIMIT = 1_048_576  # the default
CHUNK = 65_536
HANG_GUARD_SECONDS = 30  # a server that waited for the rest of the body would never answer: fail instead of hanging


@pytest.fixture(scope="module")
def server(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the module: each test opens its own connections, and none depends on what another wrote."""
    log_path = tmp_path_factory.mktemp("body-limit") / "server.log"
    with run_server({"DATABASE_URL": module_database_url}, str(log_path)) as running:
        yield running


def connected(server: Server) -> socket.socket:
    address = urlsplit(server.base_url)
    sock = socket.create_connection((address.hostname, address.port), timeout=HANG_GUARD_SECONDS)
    return sock


def response_of(sock: socket.socket) -> tuple[int, dict[str, object]]:
    data = b""
    while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
        part = sock.recv(65_536)
        if not part:
            break
        data += part
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_declared_length_over_the_limit_is_refused_before_any_body_is_sent(server: Server) -> None:
    with connected(server) as sock:
        # 300 MB announced, not one byte of it sent: the answer cannot have waited for the body
        sock.sendall(
            b"POST /notes HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 300000000\r\n\r\n"
        )
        status, body = response_of(sock)

    assert status == 413
    assert body == {"detail": f"request body larger than {LIMIT} bytes"}


def test_chunked_body_is_cut_off_at_the_limit(server: Server) -> None:
    with connected(server) as sock:
        sock.sendall(
            b"POST /notes HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = f"{CHUNK:x}\r\n".encode() + b" " * CHUNK + b"\r\n"
        for _ in range(LIMIT // CHUNK + 1):  # one chunk past the limit, and no final chunk: the body never ends
            sock.sendall(chunk)
        status, body = response_of(sock)

    assert status == 413
    assert body == {"detail": f"request body larger than {LIMIT} bytes"}


def test_body_under_the_limit_reaches_the_app(server: Server) -> None:
    just_under = request(f"{server.base_url}/notes", "POST", {"title": "t", "body": "x" * (LIMIT - 100)})
    small = request(f"{server.base_url}/notes", "POST", {"title": "t", "body": "x"})

    assert just_under.status == 422  # read whole and validated: the body is too long for a note, not for the server
    assert small.status == 201
