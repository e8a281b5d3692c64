"""Concurrent writes through a real server: none fails, on SQLite none meets "database is locked"."""

import threading

from tests.live_server import Reply, request, run_server
from tests.load import fire

WRITERS = 100


def test_concurrent_writes_all_succeed_without_lock_errors(database_url: str, tmp_path) -> None:
    start = threading.Barrier(WRITERS, timeout=30)

    def write(n: int) -> Reply:
        start.wait()  # all writers fire at once
        return request(f"{server.base_url}/notes", "POST", {"title": f"writer {n}", "body": "x" * 500}, timeout=30)

    with run_server({"DATABASE_URL": database_url}, str(tmp_path / "server.log")) as server:
        outcomes = fire([lambda n=n: write(n) for n in range(WRITERS)], concurrency=WRITERS)
        listed = [request(f"{server.base_url}/notes?limit=100&offset={offset}") for offset in (0, 100)]
    log = server.output()

    statuses = [outcome.status for outcome in outcomes]
    locked = log.count("database is locked") + sum(b"locked" in outcome.body for outcome in outcomes)
    stored = sum(len(page.json()) for page in listed)
    print(f"{WRITERS} concurrent writes: {statuses.count(201)} x 201, {locked} 'database is locked' errors")
    assert statuses == [201] * WRITERS, [outcome for outcome in outcomes if outcome.status != 201][:3]
    assert locked == 0
    assert stored == WRITERS
