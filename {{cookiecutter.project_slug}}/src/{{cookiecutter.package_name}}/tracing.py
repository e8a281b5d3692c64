"""OpenTelemetry traces, off unless TRACING=true, and then only with the otel extra installed (pip install ".[otel]").

When on, each request is a span named by its route, each query a child span with its SQL statement (never its
parameters), and each wait for a pool connection a child span "db.pool.checkout" with the seconds it waited
(measured by pool_timing.py). Spans go to the tracer provider already set in the process (tests set one), or else to
an OTLP/HTTP exporter configured by the standard OTEL_EXPORTER_OTLP_* variables. With TRACING off this module imports
no OpenTelemetry package.
"""

import os
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from {{ cookiecutter.package_name }}.pool_timing import CheckoutTiming
from {{ cookiecutter.package_name }}.settings import ConfigurationError, Settings

EXTRA_MISSING = 'TRACING=true needs the otel extra: pip install ".[otel]" (or uv sync --extra otel)'
WAIT_SPAN = "db.pool.checkout"
WAIT_ATTRIBUTE = "db.pool.wait_seconds"


def start_tracing(app: FastAPI, engine: AsyncEngine, settings: Settings) -> None:
    """With TRACING on, instrument the app's requests, the engine's queries and its pool's checkout waits."""
    app.state.tracing = None
    if not settings.tracing:
        return
    try:
        from opentelemetry import trace
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    except ImportError as error:
        raise ConfigurationError(EXTRA_MISSING) from error

    provider = current_provider(settings.app_name)
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, exclude_spans=["receive", "send"])
    app.middleware_stack = None  # built when the lifespan started, before the instrumentation: built anew
    tracer = trace.get_tracer(__name__, tracer_provider=provider)
    app.state.tracing = QueryTracing(engine, tracer)
    pool = engine.pool
    if isinstance(pool, CheckoutTiming):
        earlier = pool.on_checkout_wait  # the metrics' histogram keeps its readings

        def trace_wait(seconds: float) -> None:
            if earlier is not None:
                earlier(seconds)
            ended = time.time_ns()
            span = tracer.start_span(WAIT_SPAN, start_time=ended - int(seconds * 1e9))
            span.set_attribute(WAIT_ATTRIBUTE, seconds)
            span.end(end_time=ended)

        pool.on_checkout_wait = trace_wait


def stop_tracing(app: FastAPI) -> None:
    """Undo start_tracing's instrumentation."""
    tracing: QueryTracing | None = getattr(app.state, "tracing", None)
    if tracing is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    tracing.stop()
    FastAPIInstrumentor.uninstrument_app(app)


class QueryTracing:
    """A client span around each statement the engine runs: its SQL text with placeholders, never its parameters.

    Written on SQLAlchemy's cursor events rather than with opentelemetry-instrumentation-sqlalchemy, whose releases
    refuse SQLAlchemy versions they have not listed (2.1 at the time of writing).
    """

    def __init__(self, engine: AsyncEngine, tracer: Any) -> None:
        from opentelemetry.trace import SpanKind, StatusCode

        self.engine = engine.sync_engine
        self.tracer = tracer
        self.client, self.failed = SpanKind.CLIENT, StatusCode.ERROR
        self.system = engine.dialect.name
        self.database = engine.url.database or ""
        self.listeners: dict[str, Callable[..., None]] = {
            "before_cursor_execute": self.started,
            "after_cursor_execute": self.ended,
            "handle_error": self.errored,
        }
        for name, listener in self.listeners.items():
            event.listen(self.engine, name, listener)

    def stop(self) -> None:
        for name, listener in self.listeners.items():
            event.remove(self.engine, name, listener)

    def started(self, _conn: Any, _cursor: Any, statement: str, _parameters: Any, context: Any, _many: bool) -> None:
        if context is None:
            return
        operation = statement.split(None, 1)[0].upper() if statement.strip() else "SQL"
        context.query_span = self.tracer.start_span(
            f"{operation} {self.database}".strip(),
            kind=self.client,
            attributes={"db.system": self.system, "db.name": self.database, "db.statement": statement},
        )

    def ended(self, _conn: Any, _cursor: Any, _statement: str, _parameters: Any, context: Any, _many: bool) -> None:
        span = getattr(context, "query_span", None)
        if span is not None:
            span.end()
            context.query_span = None

    def errored(self, exception_context: Any) -> None:
        span = getattr(exception_context.execution_context, "query_span", None)
        if span is not None:
            span.set_status(self.failed, type(exception_context.original_exception).__name__)
            span.end()
            exception_context.execution_context.query_span = None


def current_provider(service_name: str) -> Any:
    """The tracer provider set in the process, or a new one exporting OTLP over HTTP, set as the process's."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        return provider
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: service_name}
    provider = TracerProvider(resource=Resource.create(attributes))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider
