"""Benchmark: the cost ladder from the raw driver to this service, and open-loop tail latency.

    python -m scripts.bench                      # 16, 64 and 256 clients, 3 rounds of 10 s, then the open loop
    python -m scripts.bench --quick              # for CI: 64 clients, 1 round of 1 s, no warm-up
    python -m scripts.bench --concurrency 64 --workers 1,2

Every rung of the ladder (scripts/bench_references.py) is a real uvicorn server (uvloop, httptools) started by this
script on 127.0.0.1 against a throwaway, migrated database on the configured server (DATABASE_URL), serving the same
query with a pool of the same size; closed-loop load comes from wrk when installed, else from the built-in asyncio
client (scripts/bench_load.py). The open loop then sends requests at a fixed rate (50% and 90% of the service's
measured maximum) to the service with this pool and with SQLAlchemy's (POOL_CLASS=stock), and at the same rates to
the raw rung (the floor of what this client can measure), latency counted from the time each request was due. Exit
code 1 when the service (or a rung on its pool) had errors or held more connections than its pool allows.

A database's part lives in scripts/bench_<driver>.py, imported as `driver`; such a module provides:

    async def fetch_number(connection) -> int     # SELECT 1 AS number on a bare driver connection
    async def open_raw_pool(settings) -> RawPool  # the driver's own pool of pool_size + max_overflow connections,
                                                  # with `async fetch_number() -> int` and `async close()`
    async def open_monitor(settings) -> Monitor | None   # None: no server connections to count; else an object
                                                  # with `async pids(application_name) -> list[int]`, `async close()`
    def connections_note(settings) -> str | None  # a line printed under the tables (why counts are missing)
"""

import argparse
import asyncio
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from uuid import uuid4

from {{ cookiecutter.package_name }}.settings import Settings, get_settings

from scripts import bench_{{ cookiecutter.__driver_module }} as driver
from scripts.bench_load import Load, Samples, fixed_rate, python_load, wrk_load
from scripts.bench_references import CORE_PATH, POOL_DRIVER_PATH, READ_PATH
from tests.live_server import Server, run_server, wait_until_live
from tests.migrate import upgrade
from tests.scratch_{{ cookiecutter.__driver_module }} import scratch_database

UVICORN_ARGS = ("--loop", "uvloop", "--http", "httptools", "--factory")
SAMPLE_INTERVAL_SECONDS = 0.05
STARTUP_TIMEOUT_SECONDS = 60  # every server of a round starts at once, on a machine the load generator shares
OPEN_LOOP_LOADS = (50, 90)  # % of the service's measured maximum throughput
OPEN_LOOP_CLIENTS = 64  # closed-loop clients giving the first estimate of that maximum
# the open-loop client costs the machine more per request than a closed-loop one, and shares its CPUs with the
# server: the maximum is what the service answers while the open-loop client sends this much more than the
# closed-loop estimate (so rates at 90% are 90% of what the service can do under that very client)
OPEN_LOOP_OVERLOAD = 1.3
# a target answering less than this share of its rate fell behind it: requests queued for the rest of the slice, and
# its latencies count that queue (at 90%, the maximum measured under overload can be more than a server sustains)
KEPT_UP = 0.98

# Server connections are counted by application_name: one of its own per run, so that two runs on one server
# (or a test suite running beside it) are not counted together
RUN_ID = uuid4().hex[:8]
REFERENCES = "scripts.bench_references"


@dataclass(frozen=True)
class Target:
    name: str
    server: str  # targets naming the same server share its process (they are the same app on other paths)
    factory: str  # in scripts/bench_references.py
    path: str
    meaning: str
    env: tuple[tuple[str, str], ...] = ()
    on_service_pool: bool = True  # must have no errors and stay within the pool's limits

    @property
    def application_name(self) -> str:
        return f"bench_{self.server}_{RUN_ID}"

    @property
    def app(self) -> str:
        return f"{REFERENCES}:{self.factory}"


RAW = Target("raw", "raw", "create_raw_app", "/items", "the driver's own pool, no SQLAlchemy: the ceiling", (), False)
BARE = Target(
    "bare",
    "bare",
    "create_bare_app",
    "/items",
    "AsyncSession on SQLAlchemy's stock pool sized POOL_SIZE+MAX_OVERFLOW/0, nothing else",
    (),
    False,
)
POOL_DRIVER = Target(
    "pool_driver", "engine", "create_engine_app", POOL_DRIVER_PATH, "a driver connection from the service's pool"
)
CORE = Target(
    "core", "engine", "create_engine_app", CORE_PATH, "SQLAlchemy Core on the service's engine, in a transaction"
)
READ = Target(
    "read_path", "service", "create_service_app", READ_PATH, "this service's read path (ReaderDep): Core, no session"
)
SERVICE = Target(
    "service", "service", "create_service_app", "/items", "this service: GET /items, an AsyncSession on its pool"
)
STOCK = Target(
    "stock",
    "stock",
    "create_service_app",
    "/items",
    "this service with POOL_CLASS=stock",
    (("POOL_CLASS", "stock"),),
    False,
)
NULLPOOL = Target(
    "nullpool",
    "nullpool",
    "create_nullpool_app",
    "/items",
    "this service on NullPool: a connection per request",
    (),
    False,
)
TARGETS = (RAW, POOL_DRIVER, READ, CORE, BARE, SERVICE, STOCK, NULLPOOL)  # the ladder's rows, in this order
# measured in this order: NullPool's connections are gone before the others run, and the servers the open loop
# needs next come last
RUN_ORDER = (NULLPOOL, RAW, POOL_DRIVER, CORE, BARE, READ, SERVICE, STOCK)
# raw takes the same rates as the service: a server with room to spare, so its tail is what this client, the machine
# and the database add to any request (the floor of what the open loop can measure here)
OPEN_LOOP_TARGETS = (SERVICE, STOCK, RAW)


@dataclass(frozen=True)
class Result:
    target: str
    workers: int
    clients: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_ms: float | None  # the server's CPU time per request (all its processes)
    peak_connections: int | None
    opened_connections: int | None


@dataclass(frozen=True)
class OpenLoopResult:
    target: str
    workers: int
    load_percent: int
    maximum: float  # the req/s load_percent is a share of: the open-loop client's, overloading the service
    closed_loop_rps: float  # the closed-loop estimate that overload was based on
    rate: float
    achieved_rps: float
    p50_ms: float
    p99_ms: float
    p999_ms: float
    errors: int
    answered_errors: int
    error_kinds: str


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
        server processes seen (connections opened), or None without server connections to count."""
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


# --- servers -------------------------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float | None:
    """CPU time used so far by a process and its descendants (uvicorn's workers), from /proc; None elsewhere."""
    try:
        tick = os.sysconf("SC_CLK_TCK")
        stats: dict[int, tuple[int, float]] = {}  # pid -> (parent pid, cpu seconds)
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:  # ended meanwhile
                    continue
                stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    except (OSError, ValueError, IndexError):
        return None
    family = {pid}
    for _ in range(3):  # uvicorn: supervisor, workers (and a multiprocessing helper)
        family |= {child for child, (parent, _) in stats.items() if parent in family}
    return sum(stats[member][1] for member in family if member in stats) if pid in stats else None


class Servers:
    """Starts the servers of a round all at once (start-up is the slow part) and stops each when the targets on
    it are done: only the servers being measured hold database connections, however many rungs the ladder has."""

    def __init__(self, url: str, logs: Path, workers: int) -> None:
        self.url, self.logs, self.workers = url, logs, workers
        self.stacks: dict[str, ExitStack] = {}
        self.servers: dict[str, Server] = {}

    def start(self, targets: tuple[Target, ...]) -> None:
        for target in targets:
            if target.server in self.servers:
                continue
            env = {"DATABASE_URL": self.url, "APPLICATION_NAME": target.application_name, **dict(target.env)}
            env["WORKERS"] = str(self.workers)  # the service's sizing check counts the workers' pools
            log_path = str(self.logs / f"{target.server}-{self.workers}.log")
            args = (*UVICORN_ARGS, "--workers", str(self.workers))
            if self.workers > 1:  # a worker still importing on a busy machine must not be taken for a hung one
                args += ("--timeout-worker-healthcheck", str(STARTUP_TIMEOUT_SECONDS))
            stack = self.stacks[target.server] = ExitStack()
            server = run_server(env, log_path, app=target.app, extra_args=args, wait=False, access_log=True)
            self.servers[target.server] = stack.enter_context(server)
        for started in self.servers.values():
            wait_until_live(started, STARTUP_TIMEOUT_SECONDS)

    def url_of(self, target: Target) -> str:
        return f"{self.servers[target.server].base_url}{target.path}"

    def cpu_seconds(self, target: Target) -> float | None:
        return cpu_seconds(self.servers[target.server].process.pid)

    def stop(self, server: str) -> None:
        self.servers.pop(server, None)
        stack = self.stacks.pop(server, None)
        if stack is not None:
            stack.close()

    def stop_all(self) -> None:
        for server in list(self.stacks):
            self.stop(server)


@contextmanager
def servers_for(url: str, logs: Path, workers: int) -> Iterator[Servers]:
    servers = Servers(url, logs, workers)
    try:
        yield servers
    finally:
        servers.stop_all()


# --- the run -------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    def numbers(text: str) -> list[int]:
        return [int(part) for part in text.split(",")]

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds of measured load per target and level")
    parser.add_argument("--warmup", type=float, default=1, help="seconds of unmeasured load before each measurement")
    parser.add_argument("--concurrency", type=numbers, help="comma-separated numbers of clients (default 16,64,256)")
    parser.add_argument("--rounds", type=int, default=3, help="turns each target takes per level (median kept)")
    parser.add_argument("--workers", type=numbers, default=[1], help="comma-separated uvicorn worker counts")
    parser.add_argument("--tool", choices=["auto", "wrk", "python"], default="auto", help="closed-loop load generator")
    parser.add_argument("--no-open-loop", dest="open_loop", action="store_false", help="the ladder only")
    parser.add_argument("--quick", action="store_true", help="short run for CI: 64 clients, 1 round of 1 s, no warm-up")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.warmup, args.rounds = 1, 0, 1  # it checks errors and connection counts, not figures
        args.concurrency = args.concurrency or [64]
    args.concurrency = args.concurrency or [16, 64, 256]
    if args.tool == "auto":
        args.tool = "wrk" if shutil.which("wrk") else "python"
    return args


async def ladder(args: argparse.Namespace, servers: Servers, sampler: ConnectionSampler) -> list[Result]:
    """Each target in turn at every level, round after round (a burst of other work on the machine is shared out);
    each round starts the servers anew. The last round leaves the open loop's servers running."""
    generate = wrk_load if args.tool == "wrk" else python_load
    loads: dict[tuple[Target, int], list[Load]] = {}
    cpu: dict[tuple[Target, int], list[float | None]] = {}
    peaks: dict[tuple[Target, int], list[tuple[int, int] | None]] = {}
    for round_ in range(args.rounds):
        await asyncio.to_thread(servers.start, RUN_ORDER)
        for position, target in enumerate(RUN_ORDER):
            url = servers.url_of(target)
            for clients in args.concurrency:
                key = (target, clients)
                async with sampler.peak(target.application_name) as peak:
                    if args.warmup > 0:
                        await generate(url, clients, args.warmup)
                    before = servers.cpu_seconds(target)
                    load = await generate(url, clients, args.duration)
                    after = servers.cpu_seconds(target)
                loads.setdefault(key, []).append(load)
                used = None if before is None or after is None or not load.requests else after - before
                cpu.setdefault(key, []).append(None if used is None else used / load.requests * 1000)
                peaks.setdefault(key, []).append(peak())
            later = {other.server for other in RUN_ORDER[position + 1 :]}
            if args.open_loop and round_ == args.rounds - 1:
                later |= {other.server for other in OPEN_LOOP_TARGETS}
            if target.server not in later:
                await asyncio.to_thread(servers.stop, target.server)
    return [
        combine(
            target.name, servers.workers, clients, loads[target, clients], cpu[target, clients], peaks[target, clients]
        )
        for clients in args.concurrency
        for target in TARGETS
    ]


async def open_loop(args: argparse.Namespace, servers: Servers) -> list[OpenLoopResult]:
    """The service's maximum throughput under the open-loop client (OPEN_LOOP_OVERLOAD), then fixed rates at
    OPEN_LOOP_LOADS % of it; at each rate, this pool, stock and raw get --warmup s of unmeasured load each, then
    take turns in slices (--rounds of them), so that a burst of other work on the machine is shared out.
    Runs on the servers the ladder's last round left running."""
    try:
        url = servers.url_of(SERVICE)
        closed = (await python_load(url, OPEN_LOOP_CLIENTS, args.duration)).rps
        maximum = (await fixed_rate(url, closed * OPEN_LOOP_OVERLOAD, args.duration)).load().rps
        results = []
        for percent in OPEN_LOOP_LOADS:
            rate = maximum * percent / 100
            samples = {target: Samples([], Counter()) for target in OPEN_LOOP_TARGETS}
            if args.warmup > 0:  # unmeasured: a pool opens the connections a higher rate needs (docs/pool.md)
                for target in OPEN_LOOP_TARGETS:
                    await fixed_rate(servers.url_of(target), rate, args.warmup)
            for _ in range(args.rounds):
                for target in OPEN_LOOP_TARGETS:
                    await fixed_rate(servers.url_of(target), rate, args.duration / args.rounds, samples[target])
            for target in OPEN_LOOP_TARGETS:
                load = samples[target].load()
                results.append(
                    OpenLoopResult(
                        target.name,
                        servers.workers,
                        percent,
                        maximum,
                        closed,
                        rate,
                        load.rps,
                        load.p50_ms,
                        load.p99_ms,
                        load.p999_ms,
                        load.errors,
                        load.answered_errors,
                        load.error_kinds,
                    )
                )
    finally:
        for target in OPEN_LOOP_TARGETS:
            await asyncio.to_thread(servers.stop, target.server)
    return results


async def run(args: argparse.Namespace, settings: Settings) -> tuple[list[Result], list[OpenLoopResult]]:
    results: list[Result] = []
    open_results: list[OpenLoopResult] = []
    sampler = ConnectionSampler()
    async with AsyncExitStack() as stack:
        url = await stack.enter_async_context(scratch_database(settings.database_url))
        await asyncio.to_thread(upgrade, url)
        logs = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        await sampler.open(settings)
        stack.push_async_callback(sampler.close)
        for workers in args.workers:
            servers = stack.enter_context(servers_for(url, logs, workers))
            found = await ladder(args, servers, sampler)
            results += found
            print_ladder(found, args)
            if args.open_loop:
                opened = await open_loop(args, servers)
                open_results += opened
                print_open_loop(opened, args.warmup)
    return results, open_results


def combine(
    name: str,
    workers: int,
    clients: int,
    loads: list[Load],
    cpu: list[float | None],
    peaks: list[tuple[int, int] | None],
) -> Result:
    """The median round's rate, latencies and CPU; errors of all rounds; the highest connection counts seen."""
    seen = [peak for peak in peaks if peak is not None]
    measured = [ms for ms in cpu if ms is not None]
    return Result(
        name,
        workers,
        clients,
        statistics.median(load.rps for load in loads),
        statistics.median(load.p50_ms for load in loads),
        statistics.median(load.p99_ms for load in loads),
        sum(load.errors for load in loads),
        statistics.median(measured) if measured else None,
        max(peak for peak, _ in seen) if seen else None,
        max(opened for _, opened in seen) if seen else None,
    )


# --- output --------------------------------------------------------------------------------------------------------


def ratio(part: float, whole: float) -> float:
    return part / whole if whole else math.nan


def print_ladder(results: list[Result], args: argparse.Namespace) -> None:
    header = (
        f"{'target':<12} {'req/s':>8} {'x raw':>6} {'x bare':>6} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}"
        f" {'cpu ms/req':>10} {'peak conns':>10} {'opened':>6}  what"
    )
    meaning = {target.name: target.meaning for target in TARGETS}
    for clients in sorted({result.clients for result in results}):
        rows = {result.target: result for result in results if result.clients == clients}
        raw, bare = rows[RAW.name].rps, rows[BARE.name].rps
        print(f"\nladder: {clients} clients, {results[0].workers} worker(s) per server, load {args.tool}")
        print(header)
        for result in rows.values():
            peak = "n/a" if result.peak_connections is None else str(result.peak_connections)
            opened = "n/a" if result.opened_connections is None else str(result.opened_connections)
            cpu = "n/a" if result.cpu_ms is None else f"{result.cpu_ms:.3f}"
            print(
                f"{result.target:<12} {result.rps:>8.0f} {ratio(result.rps, raw):>6.2f} {ratio(result.rps, bare):>6.2f}"
                f" {result.p50_ms:>8.2f} {result.p99_ms:>8.2f} {result.errors:>6} {cpu:>10} {peak:>10} {opened:>6}"
                f"  {meaning[result.target]}"
            )
        service = rows[SERVICE.name].rps
        print(
            f"ratios at {clients} clients: read_path/raw {ratio(rows[READ.name].rps, raw):.2f}x"
            f"   service/bare {ratio(service, bare):.2f}x   service/raw {ratio(service, raw):.2f}x"
            f"   service/stock {ratio(service, rows[STOCK.name].rps):.2f}x"
            f"   service/nullpool {ratio(service, rows[NULLPOOL.name].rps):.2f}x",
            flush=True,
        )


def print_open_loop(results: list[OpenLoopResult], warmup: float) -> None:
    first = results[0]
    print(f"\nopen loop: fixed rates, latency from each request's due time, {first.workers} worker(s), built-in client")
    if warmup > 0:
        print(f"each target gets {warmup:g} s of unmeasured load at each rate before its measured slices")
    print(
        f"maximum {first.maximum:.0f} req/s: what the service answered while the open-loop client sent"
        f" {OPEN_LOOP_OVERLOAD:.1f}x its closed-loop rate ({first.closed_loop_rps:.0f} req/s, {OPEN_LOOP_CLIENTS} clients)"
    )
    print(
        f"{'load':>5} {'target':<8} {'rate/s':>7} {'done/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>9}"
        f" {'p99/p50':>7} {'errors':>6}"
    )
    for result in results:
        print(
            f"{result.load_percent:>4}% {result.target:<8} {result.rate:>7.0f} {result.achieved_rps:>7.0f}"
            f" {result.p50_ms:>8.2f} {result.p99_ms:>8.2f} {result.p999_ms:>9.2f}"
            f" {ratio(result.p99_ms, result.p50_ms):>7.1f} {result.errors:>6}"
        )
    for result in results:
        if result.errors:
            print(f"errors, {result.target} at {result.load_percent}%: {result.error_kinds}")
        behind = fell_behind(result)
        if behind:
            print(behind)
    for percent in sorted({result.load_percent for result in results}):
        by_target = {result.target: result for result in results if result.load_percent == percent}
        service, stock, raw = by_target[SERVICE.name], by_target[STOCK.name], by_target[RAW.name]
        print(
            f"p99 at {percent}% load: service {service.p99_ms:.2f} ms, stock {stock.p99_ms:.2f} ms"
            f" (service/stock {ratio(service.p99_ms, stock.p99_ms):.2f}x); raw at the same rate {raw.p99_ms:.2f} ms",
            flush=True,
        )


def fell_behind(result: OpenLoopResult) -> str | None:
    """A line saying that the target answered less than its rate (KEPT_UP), or None."""
    if result.achieved_rps >= result.rate * KEPT_UP:
        return None
    return (
        f"{result.target} fell behind the rate at {result.load_percent}%: it answered {result.achieved_rps:.0f} of"
        f" {result.rate:.0f} req/s, so requests queued and its latencies count the queue"
    )


def problems(results: list[Result], open_results: list[OpenLoopResult], settings: Settings) -> list[str]:
    """What the service's pool must never do: fail requests, or hold more connections than its pool allows."""
    on_pool = {target.name for target in TARGETS if target.on_service_pool}
    found = []
    for result in results:
        if result.target not in on_pool:
            continue
        limit = (settings.pool_size + settings.max_overflow) * result.workers
        if result.errors:
            found.append(f"{result.target} had {result.errors} errors at {result.clients} clients")
        if result.peak_connections is not None and result.peak_connections > limit:
            found.append(
                f"{result.target} held {result.peak_connections} connections at {result.clients} clients, "
                f"more than (pool_size + max_overflow) x workers = {limit}"
            )
    for open_result in open_results:
        # answers only: past its capacity an open loop's requests queue without bound, and time out in the client
        if open_result.target == SERVICE.name and open_result.answered_errors:
            found.append(
                f"service answered {open_result.answered_errors} requests with errors at "
                f"{open_result.load_percent}% open-loop load ({open_result.error_kinds})"
            )
    return found


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = get_settings()
    print(
        f"backend {settings.masked_database_url.split('://')[0]}, pool {settings.pool_size}+{settings.max_overflow}, "
        f"pre-ping {settings.pool_pre_ping}, closed loop {args.tool}, {args.duration:g} s per level and target "
        f"in each of {args.rounds} round(s) (+{args.warmup:g} s warm-up), uvicorn {' '.join(UVICORN_ARGS[:4])}, "
        f"workers {','.join(map(str, args.workers))}; {os.cpu_count()} CPU(s) shared by the load generator and the "
        "servers (with as many workers as CPUs, the load generator competes with them)",
        flush=True,
    )
    started = time.monotonic()
    runner = asyncio.Runner(loop_factory=_loop_factory())
    try:
        results, open_results = runner.run(run(args, settings))
    finally:
        runner.close()
    if note := driver.connections_note(settings):
        print(note)
    if any(result.opened_connections is not None for result in results):
        print("opened: distinct server connections seen in a round (above peak: connections were closed and reopened)")
    print(f"the run took {time.monotonic() - started:.0f} s")
    found = problems(results, open_results, settings)
    print("\n".join(found) if found else "service: 0 errors, connections within pool_size + max_overflow")
    if args.json:
        document = {"ladder": [asdict(r) for r in results], "open_loop": [asdict(r) for r in open_results]}
        args.json.write_text(json.dumps(document, indent=2))
    return 1 if found else 0


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


if __name__ == "__main__":
    sys.exit(main())
