"""The pool under faults: exhausted pools answer 503 quickly, failing requests leak no connection."""

import json
from concurrent.futures import ThreadPoolExecutor

from fastapi import FastAPI

from {{ cookiecutter.package_name }}.errors import BUSY

from tests.live_server import request
from tests.load import Outcome, fire, get, timed
from tests.slowapp import FAIL_EVERY, run_slow_server, send_flaky_requests, wait_until_holding

POOL_TIMEOUT = 1
ONE_CONNECTION = {"POOL_SIZE": "1", "MAX_OVERFLOW": "0", "POOL_TIMEOUT": str(POOL_TIMEOUT)}
HOLD_SECONDS = 1.8


def test_pool_exhaustion_answers_503_within_the_pool_timeout(database_url: str, tmp_path) -> None:
    env = {"DATABASE_URL": database_url, **ONE_CONNECTION}
    with run_slow_server(env, str(tmp_path / "server.log")) as server, ThreadPoolExecutor(1) as pool:
        held = pool.submit(timed, get(f"{server.base_url}/slow?seconds={HOLD_SECONDS}"))
        wait_until_holding(server)
        # a route that needs the pool, one whose dependency (with yield) needs it before the route runs, and the
        # read path (ReaderDep)
        paths = ("/items", "/slow/dependency", "/notes")
        refused = fire([get(f"{server.base_url}{path}") for path in paths], concurrency=len(paths))
        held_outcome: Outcome = held.result()
        after = [request(f"{server.base_url}{path}") for path in paths]

    waited = max(outcome.finished - outcome.started for outcome in refused)
    print(f"time to 503 with the only connection held: {waited:.2f} s (pool_timeout {POOL_TIMEOUT} s)")
    for outcome in refused:
        assert outcome.status == 503, outcome
        assert outcome.headers["retry-after"] == "1"
        assert json.loads(outcome.body) == {"detail": BUSY}
    assert waited < POOL_TIMEOUT + 0.5
    assert held_outcome.status == 200, held_outcome
    assert [reply.status for reply in after] == [200, 200, 200]
    assert after[0].json() == {"number": 1}


async def test_failing_requests_leave_no_connection_checked_out(app: FastAPI) -> None:
    statuses = await send_flaky_requests(app)

    left = app.state.engine.pool.checkedout()
    print(f"after 1000 requests ({1000 - statuses.count(200)} failed on purpose): {left} connection(s) checked out")
    # the read path's failing statement (no such table) is a 500, or a 503 where the driver calls it operational
    assert statuses.count(500) + statuses.count(503) == 1000 // FAIL_EVERY
    assert statuses.count(200) == 1000 - 1000 // FAIL_EVERY
    assert left == 0
