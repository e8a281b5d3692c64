"""The benchmark's open-loop client (scripts/bench_load.fixed_rate) against a small HTTP server in this process.

It is a measuring instrument: what it reports must be the server's doing, not its own.
"""

import asyncio
import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from scripts.bench import OpenLoopResult, fell_behind
from scripts.bench_load import Samples, fixed_rate

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def http_server(handle: Handler) -> AsyncIterator[str]:
    """A URL served by `handle`, one call per connection, on a free port of 127.0.0.1. On the way out, the calls
    still running are awaited: the client has closed its connections by then, and so each call ends."""
    calls: set[asyncio.Task[None]] = set()

    async def call(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        calls.add(asyncio.current_task())  # type: ignore[arg-type]
        await handle(reader, writer)

    server = await asyncio.start_server(call, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}/"
        await asyncio.wait_for(asyncio.gather(*calls), timeout=5)


async def test_a_keep_alive_connection_the_server_closed_while_idle_is_not_used_again() -> None:
    # as uvicorn does once a connection has been idle for its keep-alive timeout (5 s by default)
    async def answer_once_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(ANSWER)
        await writer.drain()
        writer.close()

    async with http_server(answer_once_then_close) as url:
        samples = await fixed_rate(url, rate=40, duration=0.5)

    assert not samples.errors
    assert len(samples.latencies) == 20


async def test_the_client_collector_is_paused_while_requests_are_timed_and_resumed_after() -> None:
    # a full collection of the client's own objects takes tens of milliseconds: counted from the due times, it
    # would show up as the server's tail latency
    collector_enabled: list[bool] = []

    async def keep_alive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                collector_enabled.append(gc.isenabled())
                writer.write(ANSWER)
                await writer.drain()
        except asyncio.IncompleteReadError:
            writer.close()

    assert gc.isenabled()
    async with http_server(keep_alive) as url:
        samples = await fixed_rate(url, rate=100, duration=0.3)

    assert not samples.errors
    assert collector_enabled == [False] * 30
    assert gc.isenabled()


async def test_a_server_slower_than_the_rate_is_reported_as_falling_behind() -> None:
    # a server that answers one request at a time, 20 ms each, can keep up with 10 requests/s but not with 100: the
    # report must say so, or a queue that grew for the whole slice reads as the pool's tail latency
    one_at_a_time = asyncio.Lock()

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                async with one_at_a_time:
                    await asyncio.sleep(0.02)
                writer.write(ANSWER)
                await writer.drain()
        except asyncio.IncompleteReadError:
            writer.close()

    def result(rate: float, samples: Samples) -> OpenLoopResult:
        load = samples.load()
        return OpenLoopResult(
            "service", 1, 90, rate / 0.9, rate, rate, load.rps, load.p50_ms, load.p99_ms, load.p999_ms, 0, 0, ""
        )

    async with http_server(slow) as url:
        kept_up = result(10, await fixed_rate(url, rate=10, duration=1))
        behind = result(100, await fixed_rate(url, rate=100, duration=1))

    assert fell_behind(kept_up) is None
    message = fell_behind(behind)
    assert message is not None
    assert message.startswith("service fell behind the rate at 90%: it answered ")
    assert message.split("answered ")[1].startswith(f"{behind.achieved_rps:.0f} of 100 req/s")
    assert behind.achieved_rps < 60
