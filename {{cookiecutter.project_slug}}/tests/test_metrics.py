import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from prometheus_client import generate_latest
from sqlalchemy import event, text
from starlette.types import Message, Receive, Scope, Send

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.metrics import wait_buckets
from {{ cookiecutter.package_name }}.settings import Settings

from tests.metrics_text import PoolReading, samples, scrape, settled


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


async def test_metrics_a_request_is_counted_before_its_client_sees_the_end_of_the_response(app: FastAPI) -> None:
    """A scrape made after a client has its whole response always includes that request (no lag to poll for)."""
    counted_when_sent: list[float] = []
    key = ("http_request_duration_seconds_count", (("method", "GET"), ("route", "/items")))

    async def watching(scope: Scope, receive: Receive, send: Send) -> None:
        async def send_and_watch(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                counted_when_sent.append(samples(app.state.metrics.scrape().decode()).get(key, 0))
            await send(message)

        await app(scope, receive, send_and_watch)

    async with AsyncClient(transport=ASGITransport(app=watching), base_url="http://test") as http:
        assert (await http.get("/items")).status_code == 200
        assert (await http.get("/items")).status_code == 200
    assert counted_when_sent == [1, 2]


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


@pytest.fixture(params=["fair", "stock"])
def pool_class(request: pytest.FixtureRequest) -> str:
    return request.param


Running = Callable[..., AbstractAsyncContextManager[tuple[FastAPI, AsyncClient]]]


@pytest.fixture
def running(database_url: str, pool_class: str) -> Running:
    """Start the app with pool settings; yields it and a client once its start-up checkout (if any) is over."""

    @asynccontextmanager
    async def start(**pool: object) -> AsyncIterator[tuple[FastAPI, AsyncClient]]:
        settings = Settings(_env_file=None, database_url=database_url, pool_class=pool_class, **pool)
        app = create_app(settings)
        async with (
            app.router.lifespan_context(app),
            AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client,
        ):
            await app.state.pool_sizing_check  # on PostgreSQL it checks a connection out at start-up
            yield app, client

    return start


async def test_metrics_checkout_wait_counts_each_request_once(running: Running, pool_class: str) -> None:
    requests = 30
    async with running(pool_size=2, max_overflow=1, pool_timeout=5) as (app, client):
        before = await scrape(client)
        replies = await asyncio.gather(*(client.get("/items") for _ in range(requests)))
        after = await scrape(client)

    assert {reply.status_code for reply in replies} == {200}
    assert type(app.state.engine.pool).pool_class == pool_class
    assert after.waits - before.waits == requests
    assert after.waited_seconds >= before.waited_seconds
    assert list(after.buckets) == [*wait_buckets(5), float("inf")]
    assert wait_buckets(5) == [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]
    counts = list(after.buckets.values())
    assert counts == sorted(counts)  # cumulative
    assert after.buckets[5.0] == after.buckets[float("inf")] == after.waits  # none reached POOL_TIMEOUT


async def test_metrics_a_request_waiting_for_a_held_connection_is_filed_by_how_long_it_waited(
    running: Running, pool_class: str
) -> None:
    hold_seconds = 0.6
    async with running(pool_size=1, max_overflow=0, pool_timeout=5) as (app, client):
        held = await app.state.engine.connect()  # the only connection
        before = await scrape(client)
        waiting = asyncio.create_task(client.get("/items"))
        await asyncio.sleep(hold_seconds)
        await held.close()
        reply = await waiting
        after = await scrape(client)

    assert reply.status_code == 200
    assert after.waits - before.waits == 1
    assert after.waited_seconds - before.waited_seconds > 0.25
    assert after.buckets[0.25] == before.buckets[0.25]  # it waited longer than 0.25 s...
    assert after.buckets[5.0] - before.buckets[5.0] == 1  # ...and got its connection before POOL_TIMEOUT


async def test_metrics_checkouts_that_timed_out_are_counted_as_waits(running: Running, pool_class: str) -> None:
    async with running(pool_size=1, max_overflow=0, pool_timeout=0.2) as (app, client):
        held = await app.state.engine.connect()
        before = await scrape(client)
        replies = [await client.get("/items") for _ in range(2)]
        after = await scrape(client)
        await held.close()
        timeouts = samples((await client.get("/metrics")).text)[("db_pool_timeouts_total", ())]

    assert [reply.status_code for reply in replies] == [503, 503]
    assert timeouts == 2
    assert after.waits - before.waits == 2
    assert after.buckets[0.1] == before.buckets[0.1]  # both waited about POOL_TIMEOUT
    assert list(after.buckets)[-2:] == [0.2, float("inf")]


async def test_metrics_opened_and_closed_connections_follow_the_pool(running: Running, pool_class: str) -> None:
    pool_size, max_overflow = 2, 3
    limit = pool_size + max_overflow
    events = {"connect": 0, "close": 0, "close_detached": 0}

    async with running(pool_size=pool_size, max_overflow=max_overflow, overflow_idle_timeout=0) as (app, client):
        engine = app.state.engine
        for name in events:  # the pool's own events, counted independently of the metrics
            event.listen(engine.sync_engine.pool, name, lambda *_, name=name: events.update({name: events[name] + 1}))
        before = await scrape(client)
        for burst in (1, 2):
            held = [await engine.connect() for _ in range(limit)]  # a burst above POOL_SIZE: overflow opened
            for connection in held:
                await connection.close()  # overflow connections closed as they come back (idle timeout 0)
            reading = await settled(client, lambda r, burst=burst: r.closed == burst * max_overflow)
            assert reading.opened == limit + (burst - 1) * max_overflow
            assert reading.closed == burst * max_overflow
            assert reading.opened - reading.closed == engine.pool.checkedin() == pool_size
        assert reading.opened - before.opened == events["connect"]
        assert reading.closed - before.closed == events["close"] + events["close_detached"]

        replies = [await client.get("/items") for _ in range(10)]  # within POOL_SIZE: the kept ones serve
        steady = await scrape(client)
        assert [reply.status_code for reply in replies] == [200] * 10
        assert (steady.opened, steady.closed) == (reading.opened, reading.closed)

    final = PoolReading.parse(generate_latest(app.state.metrics.registry).decode())
    assert final.closed == final.opened  # the shutdown closed every connection it had opened


async def test_metrics_invalidated_and_detached_connections_count_as_closed(running: Running, pool_class: str) -> None:
    async with running(pool_size=1, max_overflow=0) as (app, client):
        engine = app.state.engine
        connection = await engine.connect()
        await connection.execute(text("SELECT 1"))
        start = await scrape(client)

        await connection.invalidate()  # hard: closed at once
        await connection.close()
        hard = await scrape(client)
        async with engine.connect() as connection:  # the pool opens a replacement
            await connection.execute(text("SELECT 1"))
            reopened = await scrape(client)
            (await connection.get_raw_connection()).invalidate(soft=True)  # soft: closed at its next checkout
        soft = await scrape(client)
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            replaced = await scrape(client)
            (await connection.get_raw_connection()).detach()  # no longer the pool's; closed with the connection
        detached = await scrape(client)
        reply = await client.get("/items")
        end = await scrape(client)

    assert (hard.opened - start.opened, hard.closed - start.closed) == (0, 1)
    assert (reopened.opened - start.opened, reopened.closed - start.closed) == (1, 1)
    assert (soft.opened - start.opened, soft.closed - start.closed) == (1, 1)
    assert (replaced.opened - start.opened, replaced.closed - start.closed) == (2, 2)
    assert (detached.opened - start.opened, detached.closed - start.closed) == (2, 3)
    assert reply.status_code == 200
    assert (end.opened - start.opened, end.closed - start.closed) == (3, 3)


async def test_metrics_keep_counting_after_dispose_replaces_the_pool(running: Running, pool_class: str) -> None:
    async with running(pool_size=2, max_overflow=0) as (app, client):
        engine = app.state.engine
        assert (await client.get("/items")).status_code == 200
        old_pool = engine.pool
        before = await scrape(client)
        await engine.dispose()  # closes the pool's connections and puts pool.recreate() in its place
        replies = [await client.get("/items") for _ in range(3)]
        after = await scrape(client)

    assert engine.pool is not old_pool
    assert type(engine.pool) is type(old_pool)
    assert [reply.status_code for reply in replies] == [200] * 3
    assert after.waits - before.waits == 3
    assert after.closed - before.closed == before.opened - before.closed  # every open connection closed
    assert after.opened - before.opened == 1  # one reopened, and reused by the sequential requests
