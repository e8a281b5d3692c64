"""TRACING=true: one request is an HTTP span with the query and the pool checkout wait as its children."""

import subprocess
import sys
from collections.abc import AsyncIterator, Iterator

import pytest
from httpx import ASGITransport, AsyncClient

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.settings import ConfigurationError, Settings

PACKAGE = "{{ cookiecutter.package_name }}"


# what the otel extra brings; opentelemetry-api itself may be imported anyway: recent FastAPI releases require and
# import it for their own telemetry hooks
EXTRA_MODULES = ("opentelemetry.sdk", "opentelemetry.instrumentation", "opentelemetry.exporter")


def test_importing_the_app_with_tracing_off_imports_no_opentelemetry_sdk() -> None:
    script = (
        f"import sys; import {PACKAGE}.main; {PACKAGE}.main.create_app(); "
        f"print(sorted(name for name in sys.modules if name.startswith({EXTRA_MODULES!r})))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.fixture(scope="session")
def exporter() -> Iterator[object]:
    """An in-memory exporter behind the process's tracer provider (set once per process, as OpenTelemetry allows)."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    trace.set_tracer_provider(provider)
    yield memory
    provider.shutdown()


@pytest.fixture
async def traced_client(database_url: str, exporter) -> AsyncIterator[AsyncClient]:
    app = create_app(Settings(_env_file=None, database_url=database_url, tracing=True))
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client,
    ):
        exporter.clear()
        yield client


async def test_a_request_is_an_http_span_with_a_db_child(traced_client: AsyncClient, exporter) -> None:
    from opentelemetry.trace import SpanKind

    response = await traced_client.get("/items")
    spans = exporter.get_finished_spans()

    assert response.status_code == 200
    http = [span for span in spans if span.kind == SpanKind.SERVER]
    assert len(http) == 1, [span.name for span in spans]
    request = http[0]
    assert request.attributes["http.route"] == "/items"
    children = [span for span in spans if span.parent is not None and span.parent.span_id == request.context.span_id]
    queries = [span for span in children if span.kind == SpanKind.CLIENT]
    assert [span.attributes["db.statement"] for span in queries] == ["SELECT 1 AS number"]
    waits = [span for span in children if span.name == "db.pool.checkout"]
    assert len(waits) == 1
    assert waits[0].attributes["db.pool.wait_seconds"] >= 0


async def test_statements_carry_no_parameters(traced_client: AsyncClient, exporter) -> None:
    title = "a-title-only-the-parameters-hold"
    response = await traced_client.post("/notes", json={"title": title, "body": "x"})
    statements = [str(span.attributes.get("db.statement", "")) for span in exporter.get_finished_spans()]

    assert response.status_code == 201, response.text
    assert any(statement.startswith("INSERT INTO notes") for statement in statements), statements
    assert not any(title in statement for statement in statements)


async def test_tracing_without_the_extra_is_refused_with_the_fix(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.instrumentation.fastapi", None)  # as if not installed
    app = create_app(Settings(_env_file=None, database_url=database_url, tracing=True))
    with pytest.raises(ConfigurationError, match=r'pip install "\.\[otel\]"'):
        async with app.router.lifespan_context(app):
            pass


def test_a_bad_tracing_value_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACING", "sometimes")
    with pytest.raises(ValueError, match="tracing"):
        Settings(_env_file=None)
