"""The benchmark's load generators.

Closed loop (a fixed number of clients, each sending its next request when the last one is answered): wrk when it
is installed, else a built-in asyncio HTTP/1.1 client. It finds the maximum throughput, but hides queueing: a slow
answer also delays the requests that would have come meanwhile.

Open loop (fixed_rate): requests are started on a fixed schedule whatever the server does, each on a free keep-alive
connection or a new one, and each latency is counted from the time the request was due, so a stall shows up in the
latency of every request it delayed (no coordinated omission).

The built-in client's own pauses are kept out of the timings: its cyclic garbage collector is off while it sends
(a full collection of its tasks and buffers stops it for tens of milliseconds, which would be counted as the
server's latency), and it collects once before each run instead.
"""

import asyncio
import gc
import math
import re
import statistics
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

REQUEST_TIMEOUT_SECONDS = 10
# open loop: connections at most; a request due while all are busy waits (and that wait counts in its latency)
OPEN_LOOP_CONNECTIONS = 512


@dataclass(frozen=True)
class Load:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    p999_ms: float = math.nan
    answered_errors: int = 0  # errors that were HTTP answers (not 200), the rest being timeouts and broken connections
    error_kinds: str = ""  # e.g. "HTTP 503: 3, TimeoutError: 1" (the built-in client only)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def summary(latencies: list[float], seconds: float, errors: Counter[str]) -> Load:
    """Requests per second and percentiles (ms) of latencies given in seconds; errors counted by kind."""
    count = sum(errors.values())
    answered = sum(n for kind, n in errors.items() if kind.startswith("HTTP "))
    kinds = ", ".join(f"{kind}: {n}" for kind, n in errors.most_common())
    if len(latencies) < 2:
        return Load(len(latencies), seconds, math.nan, math.nan, count, math.nan, answered, kinds)
    cuts = statistics.quantiles(latencies, n=1000, method="inclusive")
    p50, p99, p999 = (cuts[index] * 1000 for index in (499, 989, 998))
    return Load(len(latencies), seconds, p50, p99, count, p999, answered, kinds)


# --- wrk -------------------------------------------------------------------------------------------------------------

WRK_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def parse_wrk(output: str, duration: float) -> Load:
    """Requests, latency percentiles and errors (socket errors plus non-2xx answers) from `wrk --latency` output."""

    def latency(percent: str) -> float:
        match = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
        return float(match.group(1)) * WRK_UNITS[match.group(2)] if match else math.nan

    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", output)
    if not done:
        raise RuntimeError(f"cannot read wrk output:\n{output}")
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    errors += int(non_2xx.group(1)) if non_2xx else 0
    seconds = float(done.group(2)) * WRK_UNITS[done.group(3)] / 1000
    return Load(int(done.group(1)), seconds or duration, latency("50"), latency("99"), errors)


async def wrk_load(url: str, clients: int, duration: float) -> Load:
    seconds = max(1, round(duration))
    process = await asyncio.create_subprocess_exec(
        "wrk",
        f"-t{min(2, clients)}",
        f"-c{clients}",
        f"-d{seconds}s",
        f"--timeout={REQUEST_TIMEOUT_SECONDS}s",
        "--latency",
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{output.decode(errors='replace')}")
    return parse_wrk(output.decode(), seconds)


# --- the built-in client ---------------------------------------------------------------------------------------------


def split_url(url: str) -> tuple[str, int, bytes]:
    """Host, port and the bytes of a keep-alive GET request for an http://host:port/path URL."""
    match = re.fullmatch(r"http://([^:/]+):(\d+)(/.*)", url)
    if match is None:
        raise ValueError(f"unsupported URL {url}")
    host, port, path = match.group(1), int(match.group(2)), match.group(3)
    return host, port, f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()


async def read_response(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 response with a Content-Length body; returns its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    if length is None:
        raise ValueError("response without Content-Length")
    await reader.readexactly(int(length.group(1)))
    return status


@contextmanager
def collector_paused() -> Iterator[None]:
    """This process's cyclic garbage collector off for the block, after one collection (as it was, after)."""
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


CLIENT_ERRORS = (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError)
Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def exchange(connection: Connection | None, host: str, port: int, payload: bytes) -> tuple[Connection, int]:
    """Send one request on the connection (a new one when None); the connection and the answer's status."""
    async with asyncio.timeout(REQUEST_TIMEOUT_SECONDS):
        if connection is None:
            connection = await asyncio.open_connection(host, port)
        reader, writer = connection
        writer.write(payload)
        return connection, await read_response(reader)


async def python_load(url: str, clients: int, duration: float) -> Load:
    """`clients` keep-alive connections, each sending GET requests back to back until the time is up."""
    host, port, payload = split_url(url)
    latencies: list[float] = []
    errors: Counter[str] = Counter()

    async def client(deadline: float) -> None:
        connection: Connection | None = None
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            try:
                connection, status = await exchange(connection, host, port, payload)
            except CLIENT_ERRORS as error:
                errors[type(error).__name__] += 1
                if connection is not None:
                    connection[1].close()
                connection = None
                continue
            latencies.append(time.perf_counter() - sent)
            if status != 200:
                errors[f"HTTP {status}"] += 1
        if connection is not None:
            connection[1].close()

    with collector_paused():
        started = time.perf_counter()
        deadline = started + duration
        await asyncio.gather(*(client(deadline) for _ in range(clients)))
    return summary(latencies, time.perf_counter() - started, errors)


@dataclass
class Samples:
    """Latencies (seconds) and errors by kind gathered over one or more timed runs, and the seconds they took."""

    latencies: list[float]
    errors: Counter[str]
    seconds: float = 0.0

    def load(self) -> Load:
        return summary(self.latencies, self.seconds, self.errors)


def reusable(idle: list[Connection]) -> Connection | None:
    """The idle keep-alive connection used last, leaving out (and closing) those the server has closed meanwhile:
    uvicorn closes a connection idle for its keep-alive timeout. None when no idle connection is left."""
    while idle:
        reader, writer = idle.pop()
        if not reader.at_eof():
            return reader, writer
        writer.close()
    return None


async def fixed_rate(url: str, rate: float, duration: float, into: Samples | None = None) -> Samples:
    """Open loop: `rate` GET requests per second for `duration` seconds, each timed from when it was due; adds to
    `into` when given (runs taking turns with other targets' add up), else to new Samples.

    Requests go out on idle keep-alive connections, or new ones up to OPEN_LOOP_CONNECTIONS. The seconds counted are
    from the first due time to the last answer, so answered requests over seconds is the rate achieved.
    """
    host, port, payload = split_url(url)
    samples = into if into is not None else Samples([], Counter())
    idle: list[Connection] = []
    slots = asyncio.Semaphore(OPEN_LOOP_CONNECTIONS)
    total = max(1, round(rate * duration))

    async def one(due: float) -> None:
        async with slots:
            connection = reusable(idle)
            try:
                connection, status = await exchange(connection, host, port, payload)
            except CLIENT_ERRORS as error:
                samples.errors[type(error).__name__] += 1
                if connection is not None:
                    connection[1].close()
                return
            samples.latencies.append(time.perf_counter() - due)
            if status != 200:
                samples.errors[f"HTTP {status}"] += 1
            idle.append(connection)

    tasks: list[asyncio.Task[None]] = []
    sent = 0
    with collector_paused():
        start = time.perf_counter() + 0.01
        while sent < total:
            now = time.perf_counter()
            while sent < total and start + sent / rate <= now:  # all that are due, even if the loop fell behind
                tasks.append(asyncio.create_task(one(start + sent / rate)))
                sent += 1
            if sent < total:
                await asyncio.sleep(max(0.0, start + sent / rate - time.perf_counter()))
        await asyncio.gather(*tasks)
    samples.seconds += time.perf_counter() - start
    for _, writer in idle:
        writer.close()
    return samples
