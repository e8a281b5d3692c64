"""Benchmark GET /items: this service's pool against SQLAlchemy's stock pool, NullPool and a raw driver pool.

    python -m scripts.bench                      # 16, 64 and 256 clients, 10 s each
    python -m scripts.bench --quick              # short run for CI: 2 s each
    python -m scripts.bench --duration 20 --concurrency 64
    python -m scripts.bench --quick --concurrency 16 --variant LOG_FORMAT=json   # + the service with JSON logs

All four apps run as real uvicorn servers (uvloop, httptools) on 127.0.0.1 against a throwaway, migrated database
on the configured server (DATABASE_URL), each logging a line per request as deployed (uvicorn's access line; with
LOG_FORMAT=json the service's own JSON line instead). Load comes from wrk when it is installed, else from a built-in asyncio
HTTP/1.1 client. --variant NAME=VALUE adds a fifth server: the pooled service with that environment variable set,
taking turns with the others, so that a setting's cost is read as a ratio to the pooled service in the same run.
Exit code 1 when the pooled service (or its variant) had errors or held more connections than its pool allows.
"""

import argparse
import asyncio
import json
import math
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from uuid import uuid4

from {{ cookiecutter.package_name }}.settings import Settings, get_settings

from scripts import bench_{{ cookiecutter.__driver_module }} as driver
from tests.live_server import run_server
from tests.migrate import upgrade
from tests.scratch_{{ cookiecutter.__driver_module }} import scratch_database

UVICORN_ARGS = ("--loop", "uvloop", "--http", "httptools")
REFERENCE_ARGS = ("--factory",)
REQUEST_TIMEOUT_SECONDS = 10
SAMPLE_INTERVAL_SECONDS = 0.05


# Server connections are counted by application_name: one of its own per run, so that two runs on one server
# (or a test suite running beside it) are not counted together
RUN_ID = uuid4().hex[:8]


@dataclass(frozen=True)
class Target:
    name: str
    app: str
    extra_args: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()

    @property
    def application_name(self) -> str:
        return f"bench_{self.name}_{RUN_ID}"


SERVICE = "{{ cookiecutter.package_name }}.main:app"
TARGETS = (
    Target("pooled", SERVICE, ()),
    Target("stock", SERVICE, (), (("POOL_CLASS", "stock"),)),
    Target("nullpool", "scripts.bench_references:create_nullpool_app", REFERENCE_ARGS),
    Target("raw", "scripts.bench_references:create_raw_app", REFERENCE_ARGS),
)


def targets(variant: list[tuple[str, str]]) -> tuple[Target, ...]:
    """The four servers, and the pooled service with the --variant variables when some are given."""
    return (*TARGETS, Target("variant", SERVICE, (), tuple(variant))) if variant else TARGETS


def environment_variable(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=VALUE")
    return name, value


@dataclass(frozen=True)
class Load:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class Result:
    target: str
    clients: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    peak_connections: int | None
    opened_connections: int | None


# --- load generators -----------------------------------------------------------------------------------------------

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


async def read_response(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 response with a Content-Length body; returns its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    if length is None:
        raise ValueError("response without Content-Length")
    await reader.readexactly(int(length.group(1)))
    return status


async def python_load(url: str, clients: int, duration: float) -> Load:
    """`clients` keep-alive connections, each sending GET requests back to back until the time is up."""
    match = re.fullmatch(r"http://([^:/]+):(\d+)(/.*)", url)
    if match is None:
        raise ValueError(f"unsupported URL {url}")
    host, port, path = match.group(1), int(match.group(2)), match.group(3)
    payload = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    latencies: list[float] = []
    errors = 0
    started = time.perf_counter()
    deadline = started + duration

    async def client() -> None:
        nonlocal errors
        writer: asyncio.StreamWriter | None = None
        reader: asyncio.StreamReader | None = None
        while time.perf_counter() < deadline:
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT_SECONDS):
                    if writer is None or reader is None:
                        reader, writer = await asyncio.open_connection(host, port)
                    sent = time.perf_counter()
                    writer.write(payload)
                    status = await read_response(reader)
                latencies.append(time.perf_counter() - sent)
                errors += status != 200
            except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                errors += 1
                if writer is not None:
                    writer.close()
                writer = reader = None
        if writer is not None:
            writer.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    if len(latencies) < 2:
        return Load(len(latencies), elapsed, math.nan, math.nan, errors)
    cuts = statistics.quantiles(latencies, n=100)
    return Load(len(latencies), elapsed, cuts[49] * 1000, cuts[98] * 1000, errors)


# --- server connections --------------------------------------------------------------------------------------------


class ConnectionSampler:
    """Samples the server's connections while load runs and keeps the peak number per application_name."""

    def __init__(self) -> None:
        self.monitor: object | None = None

    async def open(self, settings: Settings) -> None:
        self.monitor = await driver.open_monitor(settings)

    async def close(self) -> None:
        if self.monitor is not None:
            await self.monitor.close()  # type: ignore[attr-defined]

    @asynccontextmanager
    async def peak(self, application_name: str) -> AsyncIterator[Callable[[], tuple[int, int] | None]]:
        """Yields a function returning the highest number of connections seen at once and the number of distinct
        server processes seen (connections opened), or None without PostgreSQL."""
        if self.monitor is None:
            yield lambda: None
            return
        highest = 0
        seen: set[int] = set()

        async def sample() -> None:
            nonlocal highest
            while True:
                pids = await self.monitor.pids(application_name)  # type: ignore[attr-defined]
                highest = max(highest, len(pids))
                seen.update(pids)
                await asyncio.sleep(SAMPLE_INTERVAL_SECONDS)

        task = asyncio.create_task(sample())
        try:
            yield lambda: (highest, len(seen))
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


# --- the run -------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds of measured load per target and level")
    parser.add_argument("--warmup", type=float, default=1, help="seconds of unmeasured load before each measurement")
    parser.add_argument(
        "--concurrency",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[16, 64, 256],
        help="comma-separated numbers of concurrent clients (default 16,64,256)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="turns each target takes per level (median kept)")
    parser.add_argument("--tool", choices=["auto", "wrk", "python"], default="auto", help="load generator")
    parser.add_argument("--quick", action="store_true", help="short run for CI: 2 s per level, 1 s warm-up")
    parser.add_argument(
        "--variant",
        type=environment_variable,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="also run the pooled service with this environment variable (repeatable), e.g. LOG_FORMAT=json",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.warmup, args.rounds = 2, 1, 1
    if args.tool == "auto":
        args.tool = "wrk" if shutil.which("wrk") else "python"
    return args


async def run(args: argparse.Namespace, settings: Settings) -> list[Result]:
    generate = wrk_load if args.tool == "wrk" else python_load
    results: list[Result] = []
    sampler = ConnectionSampler()
    async with AsyncExitStack() as stack:
        url = await stack.enter_async_context(scratch_database(settings.database_url))
        await asyncio.to_thread(upgrade, url)
        logs = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        servers = {}
        for target in targets(args.variant):
            env = {"DATABASE_URL": url, "APPLICATION_NAME": target.application_name, **dict(target.env)}
            log_path = str(logs / f"{target.name}.log")
            extra_args = (*UVICORN_ARGS, *target.extra_args)
            server = run_server(env, log_path, app=target.app, extra_args=extra_args, access_log=True)
            servers[target] = stack.enter_context(server)
        await sampler.open(settings)
        stack.push_async_callback(sampler.close)
        for clients in args.concurrency:
            # the targets take turns, round after round, so that a burst of other work on the machine is shared out
            rounds: dict[Target, list[Load]] = {target: [] for target in servers}
            peaks: dict[Target, list[tuple[int, int] | None]] = {target: [] for target in servers}
            for round_ in range(args.rounds):
                for target in servers:
                    items_url = f"{servers[target].base_url}/items"
                    async with sampler.peak(target.application_name) as peak:
                        if args.warmup > 0 and round_ == 0:
                            await generate(items_url, clients, args.warmup)
                        rounds[target].append(await generate(items_url, clients, args.duration / args.rounds))
                    peaks[target].append(peak())
            for target in servers:
                result = combine(target.name, clients, rounds[target], peaks[target])
                results.append(result)
                print(format_row(result), flush=True)
    return results


def combine(name: str, clients: int, loads: list[Load], peaks: list[tuple[int, int] | None]) -> Result:
    """The median round's rate and latencies; errors of all rounds; the highest connection counts seen."""
    seen = [peak for peak in peaks if peak is not None]
    return Result(
        name,
        clients,
        statistics.median(load.rps for load in loads),
        statistics.median(load.p50_ms for load in loads),
        statistics.median(load.p99_ms for load in loads),
        sum(load.errors for load in loads),
        max(peak for peak, _ in seen) if seen else None,
        max(opened for _, opened in seen) if seen else None,
    )


def format_row(result: Result) -> str:
    peak = "n/a" if result.peak_connections is None else str(result.peak_connections)
    opened = "n/a" if result.opened_connections is None else str(result.opened_connections)
    return (
        f"{result.clients:>7}  {result.target:<9} {result.rps:>9.0f} {result.p50_ms:>9.2f} {result.p99_ms:>9.2f}"
        f" {result.errors:>7} {peak:>11} {opened:>8}"
    )


HEADER = (
    f"{'clients':>7}  {'target':<9} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'errors':>7} {'peak conns':>11}"
    f" {'opened':>8}"
)


def ratios(results: list[Result]) -> list[str]:
    lines = []
    by_key = {(r.target, r.clients): r for r in results}
    for clients in sorted({r.clients for r in results}):
        pooled = by_key[("pooled", clients)].rps
        stock = by_key[("stock", clients)].rps
        raw = by_key[("raw", clients)].rps
        nullpool = by_key[("nullpool", clients)].rps
        line = (
            f"{clients:>7}  pooled/raw {pooled / raw if raw else math.nan:.2f}x"
            f"   pooled/stock {pooled / stock if stock else math.nan:.2f}x"
            f"   pooled/nullpool {pooled / nullpool if nullpool else math.inf:.2f}x"
        )
        if variant := by_key.get(("variant", clients)):
            line += f"   variant/pooled {variant.rps / pooled if pooled else math.nan:.2f}x"
        lines.append(line)
    return lines


def pool_limit(settings: Settings, env: list[tuple[str, str]]) -> int:
    """POOL_SIZE + MAX_OVERFLOW of a server started with these variables over the benchmark's own settings."""
    given = {name.lower(): value for name, value in env}
    return int(given.get("pool_size", settings.pool_size)) + int(given.get("max_overflow", settings.max_overflow))


def problems(results: list[Result], settings: Settings, variant: list[tuple[str, str]]) -> list[str]:
    """What the pooled service (and its variant) must never do: fail requests, or hold more connections than its
    pool allows."""
    limits = {"pooled": pool_limit(settings, []), "variant": pool_limit(settings, variant)}
    found = []
    for result in results:
        if result.target not in limits:
            continue
        name, limit = f"{result.target} service", limits[result.target]
        if result.errors:
            found.append(f"{name} had {result.errors} errors at {result.clients} clients")
        if result.peak_connections is not None and result.peak_connections > limit:
            found.append(
                f"{name} held {result.peak_connections} connections at {result.clients} clients, "
                f"more than pool_size + max_overflow = {limit}"
            )
    return found


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = get_settings()
    print(
        f"backend {settings.masked_database_url.split('://')[0]}, pool {settings.pool_size}+{settings.max_overflow}, "
        f"pre-ping {settings.pool_pre_ping}, load {args.tool}, {args.duration:g} s per level and target "
        f"in {args.rounds} round(s) (+{args.warmup:g} s warm-up), uvicorn {' '.join(UVICORN_ARGS)}, 1 worker each, "
        "a log line per request",
        flush=True,
    )
    if args.variant:
        print(f"variant: the pooled service with {' '.join(f'{name}={value}' for name, value in args.variant)}")
    print(HEADER, flush=True)
    runner = asyncio.Runner(loop_factory=_loop_factory())
    try:
        results = runner.run(run(args, settings))
    finally:
        runner.close()
    if note := driver.connections_note(settings):
        print(note)
    if any(result.opened_connections is not None for result in results):
        print("opened: distinct server connections seen in a round (above peak: connections were closed and reopened)")
    print("ratios (req/s):")
    print("\n".join(ratios(results)))
    found = problems(results, settings, args.variant)
    print("\n".join(found) if found else "pooled service: 0 errors, connections within pool_size + max_overflow")
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 1 if found else 0


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


if __name__ == "__main__":
    sys.exit(main())
