"""Bounded concurrent HTTP load from threads, recording what every request got."""

import http.client
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from tests.live_server import Reply, request


@dataclass(frozen=True)
class Outcome:
    started: float
    finished: float
    status: int | None  # None: no HTTP answer at all
    body: bytes
    headers: dict[str, str]
    error: str = ""


def timed(call: Callable[[], Reply]) -> Outcome:
    started = time.monotonic()
    try:
        reply = call()
    except (OSError, http.client.HTTPException) as error:  # refused, reset, timed out, no status line
        return Outcome(started, time.monotonic(), None, b"", {}, f"{type(error).__name__}: {error}")
    return Outcome(started, time.monotonic(), reply.status, reply.body, dict(reply.headers))


def fire(calls: Iterable[Callable[[], Reply]], concurrency: int) -> list[Outcome]:
    """Run the calls on `concurrency` threads; outcomes in the order of the calls."""
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(timed, calls))


def post_json(url: str, payload: object, timeout: float = 10) -> Callable[[], Reply]:
    return lambda: request(url, "POST", payload, timeout=timeout)


def get(url: str, timeout: float = 10) -> Callable[[], Reply]:
    return lambda: request(url, timeout=timeout)
