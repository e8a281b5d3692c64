import asyncio

from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from prometheus_client.parser import text_string_to_metric_families

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.settings import Settings


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text page, keyed by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_pool_gauges_match_the_engine_pool_after_load(app: FastAPI, client: AsyncClient) -> None:
    replies = await asyncio.gather(*(client.get("/items") for _ in range(40)))
    assert {reply.status_code for reply in replies} == {200}

    response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = samples(response.text)
    pool = app.state.engine.pool
    assert found[("db_pool_size", ())] == pool.size()
    assert found[("db_pool_checked_out", ())] == pool.checkedout() == 0
    assert found[("db_pool_checked_in", ())] == pool.checkedin() >= 1
    assert found[("db_pool_overflow", ())] == pool.overflow()
    assert found[("db_pool_timeouts_total", ())] == 0


async def test_metrics_latency_is_filed_by_route_template(client: AsyncClient) -> None:
    created = await client.post("/notes", json={"title": "timed"})
    await client.get(f"/notes/{created.json()['id']}")
    await client.get("/items")
    await client.get("/no-such-route")

    found = samples((await client.get("/metrics")).text)

    count = "http_request_duration_seconds_count"
    assert found[(count, (("method", "GET"), ("route", "/notes/{note_id}")))] == 1
    assert found[(count, (("method", "POST"), ("route", "/notes")))] == 1
    assert found[(count, (("method", "GET"), ("route", "/items")))] == 1
    assert found[(count, (("method", "GET"), ("route", "<unmatched>")))] == 1


async def test_metrics_pool_timeout_counter_rises_when_the_pool_is_exhausted(database_url: str) -> None:
    settings = Settings(_env_file=None, database_url=database_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client,
    ):
        async with app.state.engine.connect() as held:  # the only connection, held for the whole check
            assert app.state.engine.pool.checkedout() == 1
            first = await client.get("/items")
            second = await client.get("/items")
            found = samples((await client.get("/metrics")).text)
            await held.close()
        assert (first.status_code, second.status_code) == (503, 503)
        assert found[("db_pool_timeouts_total", ())] == 2
        assert found[("db_pool_checked_out", ())] == 1
        assert (await client.get("/items")).status_code == 200


async def test_metrics_registries_are_separate_per_app(settings: Settings) -> None:
    first, second = create_app(settings), create_app(settings)
    async with first.router.lifespan_context(first), second.router.lifespan_context(second):
        async with AsyncClient(transport=ASGITransport(app=first), base_url="http://t") as client:
            await client.get("/items")
        async with AsyncClient(transport=ASGITransport(app=second), base_url="http://t") as client:
            found = samples((await client.get("/metrics")).text)
    items = ("http_request_duration_seconds_count", (("method", "GET"), ("route", "/items")))
    assert items not in found
