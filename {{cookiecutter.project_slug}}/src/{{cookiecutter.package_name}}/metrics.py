"""Prometheus metrics: the pool's state read at scrape time, how long checkouts waited, connections opened and
closed, pool timeouts, and request latency by route.

With several workers, set PROMETHEUS_MULTIPROC_DIR to an empty folder they share: every worker then writes its
numbers there, and one scrape of any worker reports them all (counters and histograms summed; the pool gauges per
worker, labelled by pid, and summed). A worker that shuts down removes its pool gauges.
"""

import asyncio
import os
import time
import weakref
from collections.abc import Callable, Iterator
from operator import methodcaller
from typing import Any

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from sqlalchemy import event
from sqlalchemy.pool import Pool, QueuePool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from {{ cookiecutter.package_name }}.pool_timing import CheckoutTiming
from {{ cookiecutter.package_name }}.settings import ConfigurationError

UNMATCHED = "<unmatched>"
WAIT_STEPS = (1.0, 2.5, 5.0)  # x 1 ms, 10 ms, 100 ms, ...


def wait_buckets(pool_timeout: float) -> list[float]:
    """Upper bounds for checkout waits: 1 ms, 2.5 ms, 5 ms, 10 ms, ... below POOL_TIMEOUT, then POOL_TIMEOUT itself.
    A checkout that timed out waited about POOL_TIMEOUT: it lands in the last bucket or, usually, just above it."""
    bounds: list[float] = []
    scale = 0.001
    while True:
        for step in WAIT_STEPS:
            bound = round(step * scale, 6)
            if bound >= pool_timeout:
                return [*bounds, pool_timeout]
            bounds.append(bound)
        scale *= 10


# the pool's gauges: name -> (documentation, its reading: a method of the pool, called by name so overrides count)
POOL_GAUGES: dict[str, tuple[str, Callable[[QueuePool], int]]] = {
    "db_pool_size": ("Connections the pool keeps open (POOL_SIZE)", methodcaller("size")),
    "db_pool_checked_out": ("Connections lent to requests right now", methodcaller("checkedout")),
    "db_pool_checked_in": ("Open connections idle in the pool", methodcaller("checkedin")),
    "db_pool_overflow": (
        "Overflow counter: opened beyond POOL_SIZE; negative while slots are unopened",
        methodcaller("overflow"),
    ),
}


def pool_readings(pool: QueuePool) -> dict[str, tuple[str, int]]:
    """The pool's gauges: name -> (documentation, value)."""
    return {name: (documentation, read(pool)) for name, (documentation, read) in POOL_GAUGES.items()}


ALL_WORKERS = "_all_workers"  # suffix of the summed pool gauges in multiprocess mode
PUBLISH_SECONDS = 1.0  # how often each worker writes its pool gauges in multiprocess mode


def multiprocess_dir() -> str | None:
    """The folder the workers share their numbers in (PROMETHEUS_MULTIPROC_DIR), None in single-process mode."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
    if folder is not None and not os.path.isdir(folder):
        raise ConfigurationError(
            f"PROMETHEUS_MULTIPROC_DIR={folder!r}: not a folder; create it (empty) before starting the workers"
        )
    return folder


class PoolCollector(Collector):
    """Reads the current pool on every scrape, so the numbers are the pool's own, never a stale copy."""

    def __init__(self, current_pool: Callable[[], Pool | None]) -> None:
        self.current_pool = current_pool

    def describe(self) -> Iterator[GaugeMetricFamily]:
        """The families collect() yields, named without reading the pool, so that a registry restricted to some
        metric names (CollectorRegistry.restricted_registry) collects these only when asked for them."""
        for name, (documentation, _) in POOL_GAUGES.items():
            yield GaugeMetricFamily(name, documentation)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pool = self.current_pool()
        if not isinstance(pool, QueuePool):
            return  # not started yet, or a pool without counters (NullPool)
        for name, (documentation, value) in pool_readings(pool).items():
            yield GaugeMetricFamily(name, documentation, value=value)


class PoolGauges:
    """Multiprocess mode: each worker writes its pool's gauges to the shared folder, when it starts, every
    PUBLISH_SECONDS and before it answers a scrape; once labelled by pid, once summed over the live workers."""

    def __init__(self, current_pool: Callable[[], Pool | None]) -> None:
        self.current_pool = current_pool
        self.gauges: list[tuple[str, Gauge, Gauge]] = []
        self.task: asyncio.Task[None] | None = None

    def publish(self, pool: Pool | None = None) -> None:
        """Write the pool's gauges: the given pool's, or the app's current one."""
        pool = pool or self.current_pool()
        if not isinstance(pool, QueuePool):
            return
        for name, (documentation, value) in pool_readings(pool).items():
            per_worker, summed = self.gauges_for(name, documentation)
            per_worker.set(value)
            summed.set(value)

    def gauges_for(self, name: str, documentation: str) -> tuple[Gauge, Gauge]:
        for known, per_worker, summed in self.gauges:
            if known == name:
                return per_worker, summed
        # registry=None: the shared folder is the registry; "live": a worker's values go when it is marked dead
        per_worker = Gauge(name, f"{documentation}, per worker", registry=None, multiprocess_mode="liveall")
        summed = Gauge(
            f"{name}{ALL_WORKERS}", f"{documentation}, all workers", registry=None, multiprocess_mode="livesum"
        )
        self.gauges.append((name, per_worker, summed))
        return per_worker, summed

    def start(self, pool: Pool) -> None:
        self.publish(pool)  # the app does not hold its engine yet: it is started before the engine is stored
        self.task = asyncio.get_running_loop().create_task(self._publish_periodically())

    async def _publish_periodically(self) -> None:
        while True:
            await asyncio.sleep(PUBLISH_SECONDS)
            self.publish()

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            self.task = None
        folder = multiprocess_dir()
        if folder is not None:
            mark_process_dead(os.getpid(), folder)  # type: ignore[no-untyped-call]


class Metrics:
    """One registry per app, so several apps in one process (tests) keep separate numbers."""

    def __init__(self, current_pool: Callable[[], Pool | None]) -> None:
        self.registry = CollectorRegistry()
        self.pool_gauges: PoolGauges | None = None
        if multiprocess_dir() is None:
            self.registry.register(PoolCollector(current_pool))
        else:
            self.pool_gauges = PoolGauges(current_pool)
        self.pool_timeouts = self.counter(
            "db_pool_timeouts", "Requests that waited POOL_TIMEOUT seconds for a connection and got 503"
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time from request to the end of the response, by route template",
            ["method", "route"],
            registry=self.registry,
        )
        self.connections_opened = self.counter(
            "db_pool_connections_opened",
            "Database connections the pool opened (first use, overflow, replacing a recycled or invalidated one)",
        )
        self.connections_closed = self.counter(
            "db_pool_connections_closed",
            "Database connections the pool closed (idle overflow, recycled, invalidated, detached, disposed)",
        )
        # per connection record, the connection it last counted as closed (see _closed)
        self.last_closed: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
        self.checkout_wait: Histogram | None = None  # its buckets end at POOL_TIMEOUT, known when the engine is built

    def counter(self, name: str, documentation: str) -> Counter:
        return Counter(name, documentation, registry=self.registry)

    def watch_pool(self, pool: Pool, pool_timeout: float) -> None:
        """Count the connections the pool opens and closes, and time how long its checkouts wait."""
        if self.checkout_wait is None:
            self.checkout_wait = Histogram(
                "db_pool_checkout_wait_seconds",
                "Time a checkout waited for a connection: for a free one, or while a new one was opened",
                buckets=wait_buckets(pool_timeout),
                registry=self.registry,
            )
        # pool events stay with the pool that engine.dispose() puts in place of this one
        event.listen(pool, "connect", self._opened)
        event.listen(pool, "close", self._closed)  # every close of a pooled connection, invalidations included
        event.listen(pool, "close_detached", self._closed_detached)  # detached from the pool, then closed
        if isinstance(pool, CheckoutTiming):
            pool.on_checkout_wait = self.checkout_wait.observe
        if self.pool_gauges is not None:
            self.pool_gauges.start(pool)

    def scrape(self) -> bytes:
        """This app's metrics; in multiprocess mode every worker's, read from the shared folder."""
        if self.pool_gauges is None:
            return generate_latest(self.registry)
        self.pool_gauges.publish()
        everyone = CollectorRegistry()
        MultiProcessCollector(everyone, multiprocess_dir())  # type: ignore[no-untyped-call]
        return generate_latest(everyone)

    def _opened(self, *_: object) -> None:
        self.connections_opened.inc()

    def _closed(self, dbapi_connection: Any, record: Any) -> None:
        # SQLAlchemy 2.0 closes a connection again, with a second event, when its first close was interrupted
        if self.last_closed.get(record) is dbapi_connection:
            return
        self.last_closed[record] = dbapi_connection
        self.connections_closed.inc()

    def _closed_detached(self, _dbapi_connection: Any) -> None:
        self.connections_closed.inc()


class LatencyMiddleware:
    """Pure ASGI: times each HTTP request and files it under its route template (/notes/{note_id})."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.latency = metrics.latency
        self.children: dict[tuple[str, str], Histogram] = {}  # labels() once per route, not per request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        observed = False

        def observe() -> None:
            nonlocal observed
            observed = True
            key = (scope["method"], getattr(scope.get("route"), "path", UNMATCHED))
            child = self.children.get(key)
            if child is None:
                child = self.children[key] = self.latency.labels(*key)
            child.observe(time.perf_counter() - started)

        async def send_counted(message: Message) -> None:
            # filed just before the response's last part leaves: a scrape made after a client has its
            # whole response always counts that request
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                observe()
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            if not observed:  # no complete response went out (an error, a client gone)
                observe()


def install_metrics(app: FastAPI) -> Metrics:
    metrics = Metrics(lambda: current_pool(app))
    app.state.metrics = metrics
    app.add_middleware(LatencyMiddleware, metrics=metrics)
    app.add_api_route("/metrics", read_metrics, methods=["GET"], tags=["metrics"], include_in_schema=False)
    return metrics


def current_pool(app: FastAPI) -> Pool | None:
    engine = getattr(app.state, "engine", None)  # not started yet
    return engine.pool if engine is not None else None


def watch_pool(app: FastAPI, pool: Pool, pool_timeout: float) -> None:
    metrics: Metrics | None = getattr(app.state, "metrics", None)
    if metrics is not None:
        metrics.watch_pool(pool, pool_timeout)


async def stop_metrics(app: FastAPI) -> None:
    """At shutdown: in multiprocess mode, stop publishing the pool gauges and remove this worker's."""
    metrics: Metrics | None = getattr(app.state, "metrics", None)
    if metrics is not None and metrics.pool_gauges is not None:
        await metrics.pool_gauges.stop()


def record_pool_timeout(app: FastAPI) -> None:
    metrics: Metrics | None = getattr(app.state, "metrics", None)
    if metrics is not None:
        metrics.pool_timeouts.inc()


async def read_metrics(request: Request) -> Response:
    return Response(request.app.state.metrics.scrape(), media_type=CONTENT_TYPE_LATEST)
