"""Faults on a throwaway database server of the tests' own (PostgreSQL's Cluster, MariaDB's MariaDB): the server
stops and starts again under the running app, or the app is given a wrong password. And on the shared server: the
app is stopped (SIGTERM) while a request holds a connection.

The database's fault module owns the server and calls these with it; the checks here are what both servers must
show, and the module adds what only its server shows.
"""

import signal
import socket
import time
from collections.abc import Callable, Mapping, Sized
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tests.live_server import Reply, request
from tests.load import get, timed
from tests.slowapp import run_slow_server, wait_until_holding

WRONG_PASSWORD = "Wrong-pw-3Kd9"
FAULT_PATHS = ("/items", "/health/ready", "/leak-secret")


class ThrowawayServer(Protocol):
    def url(self, password: str = ...) -> str: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition: Callable[[], object], timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.05)


@dataclass
class Restart:
    """What the app answered before, while and after its database server was down, and what it logged."""

    before: list[Reply]
    ready_down: Reply
    down_seconds: float  # how long /health/ready took to answer while the server was down
    items_down: Reply
    after: list[Reply]
    log: str


def through_a_restart(server: ThrowawayServer, tmp_path: Path) -> Restart:
    """The app (pre-ping on) before the server stops, while it is down, and after it is back."""
    env = {"DATABASE_URL": server.url(), "POOL_PRE_PING": "true", "POOL_TIMEOUT": "2"}
    with run_slow_server(env, str(tmp_path / "server.log")) as app:
        before = [request(f"{app.base_url}{path}") for path in ("/items", "/health/ready")]
        server.stop()
        try:
            down_started = time.monotonic()
            ready_down = request(f"{app.base_url}/health/ready")
            down_seconds = time.monotonic() - down_started
            items_down = request(f"{app.base_url}/items")
        finally:
            server.start()
        after = [request(f"{app.base_url}{path}") for path in ("/health/ready", "/items", "/items")]
    return Restart(before, ready_down, down_seconds, items_down, after, app.output())


def checked_restart(server: ThrowawayServer, tmp_path: Path, password: str) -> Restart:
    """Through a restart: ready and working before, 503 with Retry-After while down, working again after; the
    password never shown. What the app answered, for the database's own checks."""
    restart = through_a_restart(server, tmp_path)
    print(
        f"database down: /health/ready {restart.ready_down.status} in {restart.down_seconds:.2f} s, "
        f"/items {restart.items_down.status}; after restart: {[reply.status for reply in restart.after]}"
    )
    assert [reply.status for reply in restart.before] == [200, 200]
    assert password not in restart.before[1].body.decode()
    assert "***" in restart.before[1].json()["database"]["url"]  # type: ignore[index]
    assert restart.ready_down.status == 503
    assert restart.ready_down.headers["retry-after"] == "1"
    assert "database unreachable" in restart.ready_down.json()["detail"]  # type: ignore[index]
    assert restart.items_down.status == 503
    assert [reply.status for reply in restart.after] == [200, 200, 200]
    assert password not in restart.log
    return restart


def with_wrong_password(server: ThrowawayServer, tmp_path: Path) -> tuple[dict[str, Reply], str]:
    """The app's replies on FAULT_PATHS with WRONG_PASSWORD in its DATABASE_URL, and its log."""
    env = {"DATABASE_URL": server.url(WRONG_PASSWORD), "POOL_TIMEOUT": "2"}
    with run_slow_server(env, str(tmp_path / "server.log")) as app:
        replies = {path: request(f"{app.base_url}{path}") for path in FAULT_PATHS}
    return replies, app.output()  # after the server stopped: the traceback is written once the 500 has been sent


def checked_wrong_password(server: ThrowawayServer, tmp_path: Path, password: str, masked_url: str) -> str:
    """With a wrong password: 503s for the database's routes, the 500's traceback with the URL masked, neither
    password anywhere. The app's log, for the database's own checks."""
    replies, log = with_wrong_password(server, tmp_path)
    statuses = {path: reply.status for path, reply in replies.items()}
    print(f"wrong password: {statuses}, password in output: no")
    assert replies["/items"].status == 503
    assert replies["/health/ready"].status == 503
    assert replies["/leak-secret"].status == 500
    assert "503 for GET /items" in log
    # the route's error quotes DATABASE_URL; the traceback uvicorn logs shows it masked
    assert f"could not use {masked_url}" in log
    for text in [log, *(reply.body.decode() for reply in replies.values())]:
        assert WRONG_PASSWORD not in text
        assert password not in text
    return log


def checked_sigterm(
    env: Mapping[str, str], tmp_path: Path, connections: Callable[[], Sized], exit_seconds: float, gone_seconds: float
) -> str:
    """SIGTERM while a request holds a connection: the request still ends well, the app held connections while it
    drained, and none of them (as connections() finds them on the server) outlives it. The app's output."""
    with run_slow_server(env, str(tmp_path / "server.log")) as server:
        with ThreadPoolExecutor(4) as pool:
            for reply in pool.map(lambda _: request(f"{server.base_url}/items"), range(8)):
                assert reply.status == 200
            in_flight = pool.submit(timed, get(f"{server.base_url}/slow?seconds=1"))
            wait_until_holding(server)
            server.process.send_signal(signal.SIGTERM)
            during = len(connections())
            finished = in_flight.result()
        server.process.wait(exit_seconds)

    wait_until(lambda: not connections(), gone_seconds, "the app's connections outlived the server")
    print(f"connections of the app: {during} while draining, 0 after shutdown")
    assert finished.status == 200
    assert during >= 1
    return server.output()
