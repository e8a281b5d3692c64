"""The benchmark's open-loop client (scripts/bench_load.fixed_rate) against a small HTTP server in this process.

It is a measuring instrument: what it reports must be the server's doing, not its own.
"""

import asyncio
import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from scripts.bench_load import fixed_rate

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
