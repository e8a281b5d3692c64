"""Prometheus metrics: the pool's state read at scrape time, pool timeouts, and request latency by route."""

import time
from collections.abc import Iterator

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Receive, Scope, Send

router = APIRouter(tags=["metrics"])

UNMATCHED = "<unmatched>"


class PoolCollector(Collector):
    """Reads engine.pool on every scrape, so the numbers are the pool's own, never a stale copy."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        engine = getattr(self.app.state, "engine", None)
        pool = engine.pool if engine is not None else None
        if pool is None or not hasattr(pool, "checkedout"):
            return  # not started yet, or a pool without counters (NullPool)
        readings = {
            "db_pool_size": ("Connections the pool keeps open (POOL_SIZE)", pool.size()),
            "db_pool_checked_out": ("Connections lent to requests right now", pool.checkedout()),
            "db_pool_checked_in": ("Open connections idle in the pool", pool.checkedin()),
            "db_pool_overflow": (
                "Overflow counter: opened beyond POOL_SIZE; negative while slots are unopened",
                pool.overflow(),
            ),
        }
        for name, (documentation, value) in readings.items():
            yield GaugeMetricFamily(name, documentation, value=value)


class Metrics:
    """One registry per app, so several apps in one process (tests) keep separate numbers."""

    def __init__(self, app: FastAPI) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(PoolCollector(app))
        self.pool_timeouts = Counter(
            "db_pool_timeouts",
            "Requests that waited POOL_TIMEOUT seconds for a connection and got 503",
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time from request to the end of the response, by route template",
            ["method", "route"],
            registry=self.registry,
        )


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
        try:
            await self.app(scope, receive, send)
        finally:
            route = scope.get("route")
            key = (scope["method"], getattr(route, "path", UNMATCHED))
            child = self.children.get(key)
            if child is None:
                child = self.children[key] = self.latency.labels(*key)
            child.observe(time.perf_counter() - started)


def install_metrics(app: FastAPI) -> Metrics:
    metrics = Metrics(app)
    app.state.metrics = metrics
    app.add_middleware(LatencyMiddleware, metrics=metrics)
    app.include_router(router)
    return metrics


def record_pool_timeout(app: FastAPI) -> None:
    metrics: Metrics | None = getattr(app.state, "metrics", None)
    if metrics is not None:
        metrics.pool_timeouts.inc()


@router.get("/metrics", include_in_schema=False)
async def read_metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
