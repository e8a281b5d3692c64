"""Model-based test of the pool: random checkouts, returns, invalidations, cancellations, connect failures and the
passing of time, run on the real pool class with a fake async driver on virtual time (no database), checking the
pool's promises at every instant the event loop goes idle.

A run is one seeded random sequence of operations, so a failure replays exactly:
    POOL_MODEL_SEED=<seed> .venv/bin/pytest -q tests/test_pool_model.py
The same machine measured against SQLAlchemy's AsyncAdaptedQueuePool (a report, not a test):
    .venv/bin/python -m tests.test_pool_model --stock [--runs N] [--steps N] [--seed S]
"""

import argparse
import asyncio
import contextvars
import logging
import os
import random
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
from sqlalchemy import exc
from sqlalchemy.pool import AsyncAdaptedQueuePool, Pool
from sqlalchemy.pool import base as pool_base
from sqlalchemy.util import await_only, greenlet_spawn

from {{ cookiecutter.package_name }}.metrics import Metrics
from {{ cookiecutter.package_name }}.pool import FairWarmPool

from tests.virtual_time import VirtualTimeLoop

TICK = 1 / 64  # every random duration is a multiple: exact in binary, so that events often fall on the same instant
REAPING_SLACK = 0.125  # an idle overflow connection may outlive overflow_idle_timeout by this much before it is closed
STEPS = 2500
SEEDS = range(6)

INVARIANTS = {
    "limit": "open or opening connections <= pool_size + max_overflow",
    "accounting": "every open connection is checked out or idle in the pool, once",
    "counters": "checkedin(), checkedout(), overflow() agree with the model",
    "metrics": "/metrics agrees: pool gauges as above, connections opened - closed = connections open",
    "fifo": "waiters are served in arrival order",
    "idle_capacity": "no checkout waits while a connection is idle or a slot is free",
    "timeout_with_capacity": "no checkout times out after capacity was free for it",
    "request_path_close": "a checkout or return closes no other connection",
    "reaping": "idle overflow connections are closed overflow_idle_timeout after their return",
    "dispose_waiters": "checkouts waiting at dispose fail at once, not with a timeout",
    "dispose_closes": "after dispose: every connection closed, no pool timer or task left",
    "errors": "no unexpected exception (checkout, return, event loop callbacks)",
}

# the /metrics samples check_metrics compares with the pool (collecting only these keeps checking every instant cheap)
SCRAPED = [
    "db_pool_checked_in",
    "db_pool_checked_out",
    "db_pool_overflow",
    "db_pool_connections_opened_total",
    "db_pool_connections_closed_total",
]

ACTOR: contextvars.ContextVar[Any] = contextvars.ContextVar("pool_model_actor", default=None)


class ConnectFailed(Exception):
    """The fake server refused a connection."""


class FakeConnection:
    """A DBAPI connection of the fake driver: rollback and close are coroutines awaited from the pool's sync code."""

    def __init__(self, driver: "FakeDriver", number: int) -> None:
        self.driver = driver
        self.number = number
        self.state = "connecting"  # then open, closing, closed; or failed
        self.generation: Generation = driver.model.generation  # the pool that opened it (replaced below if known)
        self.started_at = driver.model.loop.time()  # SQLAlchemy's recycle counts from here

    def rollback(self) -> None:
        await_only(asyncio.sleep(self.driver.latency(self.driver.rollback_latency)))

    def commit(self) -> None:
        await_only(asyncio.sleep(0))

    def close(self) -> None:
        await_only(self.driver.close(self))

    def __repr__(self) -> str:
        return f"<connection {self.number} {self.state}>"


class FakeDriver:
    """Connections with random latency and random connect failures; it knows every connection's state, and whose
    task (ACTOR) opened or closed it."""

    def __init__(self, model: "Model", rng: random.Random, config: dict[str, Any]) -> None:
        self.model = model
        self.rng = rng
        self.connect_latency = config["connect_latency"]
        self.rollback_latency = config["rollback_latency"]
        self.close_latency = config["close_latency"]
        self.failure_rate = config["failure_rate"]
        self.exact = config.get("exact_latency", False)  # scripted scenarios: every latency is the longest
        self.down_until = -1.0  # an outage: every connect fails until then
        self.plan: deque[tuple[float, bool]] = deque()  # scripted (latency, succeeds) for the next connects
        self.live: dict[int, FakeConnection] = {}  # connecting, open or closing
        self.created = 0

    def latency(self, longest: float) -> float:
        if self.exact:
            return longest
        return self.rng.randint(0, round(longest / TICK)) * TICK

    def creator(self) -> FakeConnection:
        return await_only(self.connect())

    async def connect(self) -> FakeConnection:
        self.created += 1
        connection = FakeConnection(self, self.created)
        self.live[connection.number] = connection
        actor = self.model.actor()
        if actor is not None:
            connection.generation = actor.generation
            self.model.started_connect(actor, connection)
        if self.plan:
            latency, succeeds = self.plan.popleft()
        else:
            latency, succeeds = self.latency(self.connect_latency), self.rng.random() >= self.failure_rate
        try:
            await asyncio.sleep(latency)
            if not succeeds or self.model.loop.time() < self.down_until:
                raise ConnectFailed(f"connection {connection.number} refused")
        except BaseException:
            connection.state = "failed"
            del self.live[connection.number]
            raise
        finally:
            if actor is not None:
                actor.connecting = None
        connection.state = "open"
        return connection

    async def close(self, connection: FakeConnection) -> None:
        if connection.state != "open":
            return  # closed again (SQLAlchemy 2.0 does after an interrupted close): a no-op, as in real drivers
        actor = self.model.actor()
        if actor is not None:
            self.model.closing(actor, connection)
        connection.state = "closing"
        try:
            await asyncio.sleep(self.latency(self.close_latency))
        finally:  # a close that is interrupted still drops the connection, as a driver's terminate does
            connection.state = "closed"
            self.live.pop(connection.number, None)
            if actor is not None:
                actor.closing = None


@dataclass
class Client:
    """One request: checks a connection out, holds it, gives it back."""

    number: int
    arrived: float
    generation: "Generation"
    phase: str = "checkout"  # then holding, returning, done
    task: asyncio.Task[None] | None = None
    fairy: Any = None
    connection: FakeConnection | None = None
    connecting: FakeConnection | None = None
    closing: FakeConnection | None = None
    closed_on_checkout: int = 0
    served: bool = False  # got a connection or a slot to open one in
    served_at: float | None = None
    overdue: bool = False  # waited at an instant when capacity was free for it
    outcome: str = ""

    @property
    def waiting(self) -> bool:
        return self.phase == "checkout" and not self.served and self.closing is None


class Disposer:
    """The actor of a dispose() call."""


@dataclass(eq=False)
class Generation:
    """A pool and what the model knows of it. engine.dispose() disposes the pool and continues with a new one made by
    pool.recreate(); connections checked out of the old one go back to it."""

    pool: Pool
    number: int
    disposed: bool = False
    disposing: bool = False  # its dispose() runs: it closes its idle connections at its own pace
    idle_since: dict[int, float] = field(default_factory=dict)


@dataclass
class Result:
    seed: int
    config: dict[str, Any]
    steps: int
    incidents: dict[str, set[Any]] = field(default_factory=dict)
    first: dict[str, str] = field(default_factory=dict)
    trace: deque[str] = field(default_factory=lambda: deque(maxlen=40))
    trace_to_first: list[str] = field(default_factory=list)  # the operations before the first violation

    def counts(self) -> Counter[str]:
        return Counter({name: len(keys) for name, keys in self.incidents.items()})

    def describe(self) -> str:
        lines = [f"seed {self.seed}, {self.steps} steps, {self.config}"]
        lines += [f"  {name}: {len(keys)} x, first: {self.first[name]}" for name, keys in self.incidents.items()]
        lines += ["  operations before the first violation:", *(f"    {line}" for line in self.trace_to_first)]
        return "\n".join(lines)


def random_config(rng: random.Random) -> dict[str, Any]:
    return {
        "pool_size": rng.randint(1, 4),
        "max_overflow": rng.randint(0, 4),
        "timeout": rng.choice([0.25, 0.5, 1.0, 2.0]),
        "overflow_idle_timeout": rng.choice([0.0, 0.0, 0.5, 1.0, 3.0]),
        "recycle": rng.choice([-1, -1, 2, 5]),
        "connect_latency": rng.choice([0.0, 0.125, 0.5]),
        "rollback_latency": rng.choice([0.0, 0.0625]),
        "close_latency": rng.choice([0.0, 0.0625, 0.25]),
        "failure_rate": rng.choice([0.0, 0.1, 0.3]),
    }


def idle_records(pool: Pool) -> list[Any]:
    """The pool's idle connection records: its queue, and FairWarmPool's idle overflow ("spare") ones."""
    queue = vars(pool._pool).get("_queue")  # SQLAlchemy makes the asyncio.Queue on first use
    records = list(queue._queue) if queue is not None else []
    for item in getattr(pool, "_spare", ()):
        records.append(item[0] if isinstance(item, tuple) else item)
    return records


class Model:
    """Runs one pool on virtual time, applies operations and checks the invariants at every idle instant."""

    def __init__(self, pool_class: type[Pool], seed: int, config: dict[str, Any] | None = None) -> None:
        self.rng = random.Random(seed)
        self.config = config or random_config(self.rng)
        self.result = Result(seed, self.config, 0)
        self.loop = VirtualTimeLoop()
        self.loop.selector.on_idle = self.check
        self.loop.set_exception_handler(self.loop_error)
        self.driver = FakeDriver(self, self.rng, self.config)
        self.size = self.config["pool_size"]
        self.limit = self.size + self.config["max_overflow"]
        self.is_fair = issubclass(pool_class, FairWarmPool)
        self.idle_timeout = self.config["overflow_idle_timeout"] if self.is_fair else 0.0
        extra = {"overflow_idle_timeout": self.idle_timeout, "clock": self.loop.time} if self.is_fair else {}
        pool = pool_class(
            self.driver.creator,
            pool_size=self.size,
            max_overflow=self.config["max_overflow"],
            timeout=self.config["timeout"],
            recycle=self.config["recycle"],
            **extra,
        )
        self.generations = [Generation(pool, 1)]
        self.metrics = Metrics(lambda: self.generation.pool)  # what /metrics reports, fed by the pool's events
        self.scrape = self.metrics.registry.restricted_registry(SCRAPED)  # the part of /metrics checked
        self.metrics.watch_pool(pool, self.config["timeout"])  # pool.recreate() passes the events on
        self.clients: dict[int, Client] = {}  # not done yet, in arrival order
        self.all_clients: list[Client] = []
        self.arrivals = 0
        self.newly_served: list[Client] = []
        self.cancellations: list[asyncio.TimerHandle] = []

    @property
    def generation(self) -> Generation:
        return self.generations[-1]

    # --- bookkeeping called by the driver and the tasks

    def violation(self, name: str, key: Any, message: str) -> None:
        keys = self.result.incidents.setdefault(name, set())
        if not keys:
            self.result.first[name] = f"t={self.loop.time():.4f} {message}"
            if not self.result.incidents.keys() - {name}:
                self.result.trace_to_first = list(self.result.trace)
        keys.add(key)

    def note(self, text: str) -> None:
        self.result.trace.append(f"t={self.loop.time():.4f} {text}")

    def loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        self.violation("errors", ("loop", len(self.result.trace)), f"event loop: {context.get('message')}")

    def actor(self) -> Client | None:
        """The request whose task runs the driver now; None for the pool's own tasks (and for dispose)."""
        actor = ACTOR.get()  # timers and tasks the pool starts inherit it: check that its own task runs
        if isinstance(actor, Client) and actor.task is asyncio.current_task():
            return actor
        return None

    def started_connect(self, client: Client, connection: FakeConnection) -> None:
        client.connecting = connection
        if client.phase == "checkout" and not client.served:
            self.serve(client)

    def serve(self, client: Client) -> None:
        client.served = True
        client.served_at = self.loop.time()
        self.newly_served.append(client)

    def closing(self, client: Client, connection: FakeConnection) -> None:
        client.closing = connection
        if client.phase == "returning" and connection is client.connection:
            return
        recycle = self.config["recycle"]
        due = recycle > 0 and self.loop.time() - connection.started_at > recycle
        if client.phase == "checkout" and due and client.closed_on_checkout == 0:
            client.closed_on_checkout += 1  # its own connection, too old: the pool recycles it
            return
        self.violation(
            "request_path_close", connection.number, f"client {client.number} ({client.phase}) closes {connection}"
        )

    # --- operations

    async def _checkout(self, client: Client) -> None:
        ACTOR.set(client)
        try:
            fairy = await greenlet_spawn(client.generation.pool.connect)
        except exc.TimeoutError:
            client.outcome = "timeout"
            if client.overdue:
                self.violation(
                    "timeout_with_capacity", client.number, f"client {client.number} timed out with capacity free"
                )
        except ConnectFailed:
            client.outcome = "connect failed"
        except asyncio.CancelledError:
            client.outcome = "cancelled"
        except Exception as error:
            client.outcome = f"error {type(error).__name__}: {error}"
            if not client.generation.disposed:
                self.violation("errors", client.number, f"client {client.number} checkout: {client.outcome}")
        else:
            client.fairy = fairy
            client.connection = fairy.dbapi_connection
            client.phase = "holding"
            if not client.served:
                self.serve(client)
            return
        client.phase = "done"
        self.clients.pop(client.number, None)

    async def _give_back(self, client: Client, invalidate: bool) -> None:
        ACTOR.set(client)
        try:
            await greenlet_spawn(client.fairy.invalidate if invalidate else client.fairy.close)
        except Exception as error:
            self.violation("errors", ("return", client.number), f"client {client.number} return: {error!r}")
        client.phase = "done"
        client.outcome = "invalidated" if invalidate else "returned"
        self.clients.pop(client.number, None)

    def checkout(self) -> None:
        self.arrivals += 1
        client = Client(self.arrivals, self.loop.time(), self.generation)
        self.clients[client.number] = client
        self.all_clients.append(client)
        client.task = self.loop.create_task(self._checkout(client))
        self.note(f"checkout {client.number}")

    def give_back(self, client: Client, invalidate: bool = False) -> None:
        client.phase = "returning"
        client.task = self.loop.create_task(self._give_back(client, invalidate))
        self.note(f"{'invalidate' if invalidate else 'return'} {client.number} ({client.connection})")

    def cancel(self, client: Client, after: float) -> None:
        assert client.task is not None
        self.note(f"cancel {client.number} in {after} s ({'waiting' if client.waiting else 'connecting'})")
        if after == 0:
            client.task.cancel()
        else:
            self.cancellations.append(self.loop.call_later(after, client.task.cancel))

    def dispose(self, generation: Generation, recreate: bool) -> None:
        """What engine.dispose() does: dispose the pool, and (recreate) continue with pool.recreate()."""
        self.dispose_all([generation])
        if recreate:
            self.generations.append(Generation(self.recreate(generation.pool), generation.number + 1))
            self.loop.settle()

    def dispose_all(self, generations: list[Generation]) -> None:
        """Dispose these pools at the same instant (each generation's pool in its own task), wait until all are."""
        waiters = [client for client in self.clients.values() if client.waiting and client.generation in generations]
        self.note(
            f"dispose pool {', '.join(str(generation.number) for generation in generations)}, {len(waiters)} waiting"
        )

        async def dispose(pool: Pool) -> None:
            ACTOR.set(Disposer())
            await greenlet_spawn(pool.dispose)

        async def dispose_each() -> None:
            await asyncio.gather(*(dispose(generation.pool) for generation in generations))

        for generation in generations:
            generation.disposed = generation.disposing = True
        self.loop.run_until_complete(dispose_each())
        for generation in generations:
            generation.disposing = False
        self.loop.settle()
        for client in waiters:
            if client.phase != "done" or client.outcome in ("timeout", "returned", "invalidated"):
                self.violation(
                    "dispose_waiters",
                    client.number,
                    f"client {client.number} waiting at dispose: {client.phase} {client.outcome}".strip(),
                )

    def recreate(self, pool: Pool) -> Pool:
        new = pool.recreate()
        if self.is_fair:
            settings = {"overflow_idle_timeout": new.overflow_idle_timeout, "clock": getattr(new, "_clock", None)}
            if settings != {"overflow_idle_timeout": self.idle_timeout, "clock": self.loop.time}:
                self.violation("errors", "recreate", f"recreate() makes a pool with {settings}")
                new._clock = self.loop.time  # go on with the virtual clock, to check the rest
        return new

    def step(self) -> None:
        rng, loop = self.rng, self.loop
        holding = [client for client in self.clients.values() if client.phase == "holding"]
        pending = [client for client in self.clients.values() if client.phase == "checkout"]
        choice = rng.choices(
            ["checkout", "burst", "return", "invalidate", "cancel", "wait", "long wait", "outage", "dispose"],
            [30, 3, 22, 3, 5, 30, 3, 1, 0.3],
        )[0]
        if choice in ("checkout", "burst") and len(self.clients) < 3 * self.limit + 3:
            for _ in range(1 if choice == "checkout" else rng.randint(2, 5)):
                self.checkout()
        elif choice in ("return", "invalidate") and holding:
            self.give_back(rng.choice(holding), invalidate=choice == "invalidate")
        elif choice == "cancel" and pending:
            self.cancel(rng.choice(pending), rng.choice([0.0, rng.randint(1, 32) * TICK]))
        elif choice == "dispose":
            self.dispose(self.generation, recreate=True)
        elif choice == "outage":
            self.driver.down_until = loop.time() + rng.randint(1, 64) * TICK
            self.note(f"outage until {self.driver.down_until}")
        elif choice == "long wait":
            seconds = rng.randint(1, 4) * (self.config["timeout"] + self.idle_timeout)
            self.note(f"wait {seconds} s")
            loop.advance(seconds)
        else:
            seconds = rng.randint(0, 16) * TICK
            self.note(f"wait {seconds} s")
            loop.advance(seconds)
        loop.settle()
        self.result.steps += 1

    def drain(self) -> None:
        """Every request finishes: holders give their connections back, waiters get one or give up."""
        for _ in range(10_000):
            if not self.clients:
                for timer in self.cancellations:
                    timer.cancel()
                return
            for client in list(self.clients.values()):
                if client.phase == "holding":
                    self.give_back(client)
            self.loop.advance(8 * TICK)
        raise AssertionError(f"requests never finished: {list(self.clients.values())}")

    def finish(self) -> None:
        if self.rng.random() < 0.5:
            self.dispose(self.generation, recreate=True)  # under load: waiters must fail
        self.drain()
        if self.idle_timeout > 0 and self.rng.random() < 0.5:
            # every slot used, then all returned: the final dispose comes while the overflow ones are being reaped
            for _ in range(self.limit):
                self.checkout()
            self.loop.settle()
            self.drain()
            seconds = self.idle_timeout + self.rng.randint(0, 12) * TICK - 8 * TICK  # the reaper: after 0.05 s
        else:
            seconds = self.rng.randint(0, round((self.idle_timeout + 1) / TICK)) * TICK
        self.note(f"wait {seconds} s")
        self.loop.advance(seconds)
        self.dispose_all(self.generations)  # old pools too: what came back to them after their dispose
        self.check_nothing_runs()
        self.check_all_closed()

    def check_nothing_runs(self) -> None:
        """Right after dispose(): no task or timer of the pool's (its reaper, its waiters' timeouts) is left."""
        mine = {client.task for client in self.clients.values()}
        for task in asyncio.all_tasks(self.loop) - mine:
            if not task.done():
                self.violation("dispose_closes", ("task", repr(task)), f"task left after dispose: {task}")
        for timer in self.loop._scheduled:
            owner = getattr(timer._callback, "__self__", None)
            if not timer.cancelled() and any(owner is generation.pool for generation in self.generations):
                self.violation("dispose_closes", ("timer", repr(timer)), f"pool timer left after dispose: {timer}")

    def check_all_closed(self) -> None:
        """A while after the last dispose(): every connection is closed, the counters are back to zero."""
        self.loop.advance(self.config["timeout"] + self.idle_timeout + 1)
        held = {client.connection for client in self.clients.values() if client.phase == "holding"}
        for connection in self.driver.live.values():
            if connection not in held:
                self.violation("dispose_closes", connection.number, f"{connection} after dispose")
        for generation in self.generations:
            pool = generation.pool
            counters = pool.checkedin(), pool.checkedout(), pool.overflow()
            if counters != (0, 0, -self.size) and not self.clients:
                self.violation(
                    "dispose_closes",
                    ("counters", generation.number),
                    f"pool {generation.number} after dispose: checkedin {counters[0]}, checkedout {counters[1]}, "
                    f"overflow {counters[2]}",
                )

    def run(self, steps: int) -> Result:
        with virtual_wall_clock(self.loop.time):
            try:
                for _ in range(steps):
                    self.step()
                self.finish()
            finally:
                self.close_loop()
        return self.result

    def close_loop(self) -> None:
        self.loop.selector.on_idle = lambda: None
        for task in asyncio.all_tasks(self.loop):
            task.cancel()
        self.loop.run_until_complete(asyncio.sleep(0))
        self.loop.close()

    # --- the invariants, at every idle instant

    def check(self) -> None:
        now = self.loop.time()
        for generation in self.generations:
            clients = [client for client in self.clients.values() if client.generation is generation]
            live = [connection for connection in self.driver.live.values() if connection.generation is generation]
            if clients or live or not generation.disposed:
                self.check_pool(generation, now, clients, live)
        self.check_metrics()
        self.newly_served.clear()

    def check_pool(self, generation: Generation, now: float, clients: list[Client], live: list[FakeConnection]) -> None:
        states = Counter(connection.state for connection in live)
        if len(live) > self.limit:
            self.violation(
                "limit",
                max(connection.number for connection in live),
                f"{dict(states)} connections, limit {self.limit}",
            )
        with_client: dict[int, Client] = {}
        for client in clients:
            connection = client.connection
            if client.phase == "holding" and connection is not None and connection.state == "open":
                if connection.number in with_client:
                    self.violation("accounting", connection.number, f"{connection} checked out twice")
                with_client[connection.number] = client
        records = idle_records(generation.pool)
        idle: set[int] = set()
        for record in records:
            connection = record.dbapi_connection
            if connection is None:
                continue  # invalidated: the slot reconnects on its next checkout
            if connection.state != "open":
                self.violation("accounting", connection.number, f"idle in the pool: {connection}")
            elif connection.number in with_client:
                client = with_client[connection.number]
                self.violation("accounting", connection.number, f"{connection} idle and held by client {client.number}")
            elif connection.number in idle:
                self.violation("accounting", connection.number, f"{connection} idle twice")
            idle.add(connection.number)
        for client in clients:
            connection = client.connection
            # still with the request until the pool takes it (it may close others' before it returns)
            if (
                client.phase == "returning"
                and connection is not None
                and connection.state == "open"
                and connection.number not in idle
                and connection.number not in with_client
            ):
                with_client[connection.number] = client
        for connection in live:
            if connection.state == "open" and connection.number not in with_client and connection.number not in idle:
                self.violation("accounting", connection.number, f"{connection} leaked: not checked out, not idle")

        if not generation.disposing:
            self.check_reaping(generation, now, idle)
        if generation.disposed:
            return  # a disposed pool only has to close what comes back

        self.check_counters(generation.pool, clients, records, states, with_client)
        waiting = [client for client in clients if client.waiting]
        for served in self.newly_served:
            for client in waiting if served.generation is generation else ():
                if client.number < served.number:
                    self.violation("fifo", client.number, f"client {served.number} served while {client.number} waits")
        free = self.limit - states["connecting"] - states["closing"] - len(with_client)
        for client in waiting[: max(0, free)]:
            client.overdue = True
            self.violation(
                "idle_capacity",
                client.number,
                f"client {client.number} waits, {len(waiting)} waiting, {free} free "
                f"({dict(states)}, {len(with_client)} checked out)",
            )

    def check_counters(
        self,
        pool: Pool,
        clients: list[Client],
        records: list[Any],
        states: Counter[str],
        with_client: dict[int, Client],
    ) -> None:
        def in_use(client: Client) -> bool:
            connection = client.connection
            if client.phase == "returning" and connection is not None and connection.state == "open":
                return with_client.get(connection.number) is client  # not yet idle, nor handed to a waiter
            return client.phase in ("holding", "returning") or client.connecting is not None

        used = sum(1 for client in clients if in_use(client))
        possibly = sum(1 for client in clients if client.phase == "checkout" and client.served)
        checkedin, checkedout, overflow = pool.checkedin(), pool.checkedout(), pool.overflow()
        if (
            checkedin != len(records)
            or not used <= checkedout <= used + possibly + states["closing"]
            or overflow != checkedin + checkedout - self.size
        ):
            self.violation(
                "counters",
                self.loop.time(),
                f"checkedin {checkedin} checkedout {checkedout} overflow {overflow}; model: {len(records)} idle, "
                f"{used} in use (+{possibly} served, +{states['closing']} closing)",
            )

    def check_metrics(self) -> None:
        families = self.scrape.collect()
        scraped = {sample.name: sample.value for family in families for sample in family.samples}
        pool = self.generation.pool
        expected = {
            "db_pool_checked_in": pool.checkedin(),
            "db_pool_checked_out": pool.checkedout(),
            "db_pool_overflow": pool.overflow(),
        }
        reported = {name: scraped.get(name) for name in expected}
        open_now = sum(1 for connection in self.driver.live.values() if connection.state == "open")
        counted = scraped["db_pool_connections_opened_total"] - scraped["db_pool_connections_closed_total"]
        if reported != expected or counted != open_now:
            self.violation(
                "metrics",
                self.loop.time(),
                f"/metrics {reported}, opened - closed {counted:g}; pool {expected}, {open_now} open",
            )

    def check_reaping(self, generation: Generation, now: float, idle: set[int]) -> None:
        for number in list(generation.idle_since):
            if number not in idle:
                del generation.idle_since[number]
        for number in idle:
            generation.idle_since.setdefault(number, now)
        overdue = sorted(
            (since, number)
            for number, since in generation.idle_since.items()
            if now - since > self.idle_timeout + REAPING_SLACK
        )
        for _, number in overdue[self.size :]:
            self.violation("reaping", number, f"connection {number} idle since {generation.idle_since[number]}")


@contextmanager
def virtual_wall_clock(clock: Callable[[], float]) -> Iterator[None]:
    """SQLAlchemy's pool reads time.time() for pool_recycle: give it the virtual clock."""
    with mock.patch.object(pool_base, "time", SimpleNamespace(time=clock)):
        yield


def known_fault(pool_class: type[Pool]) -> Model:
    """pool_size 1 + max_overflow 1, timeout 1: the only kept connection is checked out; a second checkout opens an
    overflow connection that fails after 0.3 s; a third checkout, queued meanwhile, must get the freed slot."""
    config = random_config(random.Random(0)) | {
        "pool_size": 1,
        "max_overflow": 1,
        "timeout": 1.0,
        "overflow_idle_timeout": 30.0,
        "recycle": -1,
        "failure_rate": 0.0,
    }
    model = Model(pool_class, seed=0, config=config)
    model.driver.plan.extend([(0.0, True), (0.3, False), (0.125, True)])
    with virtual_wall_clock(model.loop.time):
        try:
            model.checkout()
            model.loop.settle()
            model.checkout()
            model.loop.advance(0.05)
            model.checkout()
            model.loop.advance(1.5)
        finally:
            model.close_loop()
    return model


def dispose_under_load(pool_class: type[Pool]) -> Model:
    """pool_size 1 + max_overflow 2: an idle overflow connection is being closed (0.25 s) and a checkout waits when
    the pool is disposed; the two checked-out connections come back to the disposed pool, which is disposed again."""
    config = random_config(random.Random(0)) | {
        "pool_size": 1,
        "max_overflow": 2,
        "timeout": 2.0,
        "overflow_idle_timeout": 0.5,
        "recycle": -1,
        "failure_rate": 0.0,
        "connect_latency": 0.0,
        "rollback_latency": 0.0,
        "close_latency": 0.25,
        "exact_latency": True,
    }
    model = Model(pool_class, seed=0, config=config)
    with virtual_wall_clock(model.loop.time):
        try:
            for _ in range(3):
                model.checkout()
            model.loop.settle()
            first, second, third = model.all_clients
            model.give_back(first)  # kept
            model.give_back(second)  # idle overflow, closed from 0.55 s to 0.8 s
            model.loop.settle()
            model.checkout()  # takes the kept one
            model.loop.advance(0.6)
            model.checkout()  # waits: one connection held, one checked out, one being closed
            model.loop.settle()
            model.dispose(model.generation, recreate=False)
            model.check_nothing_runs()
            for client in list(model.clients.values()):
                if client.phase == "holding":
                    model.give_back(client)
            model.loop.settle()
            model.dispose(model.generation, recreate=False)
            model.check_nothing_runs()
            model.check_all_closed()
        finally:
            model.close_loop()
    return model


def run_seed(pool_class: type[Pool], seed: int, steps: int = STEPS) -> Result:
    return Model(pool_class, seed).run(steps)


def seeds() -> list[int]:
    chosen = os.environ.get("POOL_MODEL_SEED")
    return [int(chosen)] if chosen else list(SEEDS)


def test_a_slot_freed_by_a_failed_connect_goes_to_the_waiting_checkout() -> None:
    model = known_fault(FairWarmPool)
    first, second, third = model.all_clients
    assert not model.result.incidents, model.result.describe()
    assert (first.phase, second.outcome, third.phase) == ("holding", "connect failed", "holding")
    assert third.served_at == 0.3  # it opens a connection in the freed slot at once


def test_the_model_catches_the_stock_pool_leaving_a_freed_slot_unused() -> None:
    """The checker's own test: SQLAlchemy's pool lets the third checkout wait out its timeout with a slot free (it
    then finds the slot and connects), and the model says so."""
    model = known_fault(AsyncAdaptedQueuePool)
    first, second, third = model.all_clients
    assert (first.phase, second.outcome, third.phase) == ("holding", "connect failed", "holding")
    assert third.served_at == 1.05
    assert model.result.incidents == {"idle_capacity": {3}}, model.result.describe()


def test_dispose_fails_the_waiting_checkout_and_leaves_nothing_running() -> None:
    model = dispose_under_load(FairWarmPool)
    assert not model.result.incidents, model.result.describe()
    waiter = model.all_clients[4]
    assert waiter.outcome.startswith("error"), waiter


@pytest.mark.parametrize("seed", seeds())
def test_the_pool_keeps_its_promises_under_random_operations(seed: int) -> None:
    result = run_seed(FairWarmPool, seed)
    print(f"seed {seed}: {result.steps} steps, {result.config}")
    replay = f"replay: POOL_MODEL_SEED={seed} .venv/bin/pytest -q tests/test_pool_model.py"
    assert not result.incidents, f"{result.describe()}\n{replay}"


def table(runs: int, steps: int, first_seed: int, pool_classes: list[type[Pool]]) -> str:
    columns = []
    for pool_class in pool_classes:
        totals: Counter[str] = Counter()
        failing: Counter[str] = Counter()
        started = time.perf_counter()
        for seed in range(first_seed, first_seed + runs):
            counts = run_seed(pool_class, seed, steps).counts()
            totals.update(counts)
            failing.update(counts.keys())
        columns.append((pool_class.__name__, totals, failing, time.perf_counter() - started))
    width = max(map(len, INVARIANTS)) + 2
    lines = [f"{runs} runs x {steps} steps, seeds {first_seed}..{first_seed + runs - 1}; incidents (runs)"]
    lines.append("invariant".ljust(width) + "".join(name.rjust(26) for name, *_ in columns))
    for name in INVARIANTS:
        cells = "".join(f"{totals[name]} ({failing[name]})".rjust(26) for _, totals, failing, _ in columns)
        lines.append(name.ljust(width) + cells)
    lines.append("wall time".ljust(width) + "".join(f"{seconds:.1f} s".rjust(26) for *_, seconds in columns))
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stock", action="store_true", help="also run SQLAlchemy's AsyncAdaptedQueuePool")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument("--show", action="store_true", help="describe each run that breaks an invariant")
    args = parser.parse_args(argv)
    logging.getLogger().addHandler(logging.NullHandler())  # SQLAlchemy logs closes interrupted by cancellation
    classes: list[type[Pool]] = [FairWarmPool, *([AsyncAdaptedQueuePool] if args.stock else [])]
    if args.show:
        for pool_class in classes:
            for seed in range(args.seed, args.seed + args.runs):
                result = run_seed(pool_class, seed, args.steps)
                if result.incidents:
                    print(f"{pool_class.__name__}: {result.describe()}\n")
    for invariant, text in INVARIANTS.items():
        print(f"{invariant}: {text}")
    print(table(args.runs, args.steps, args.seed, classes))


if __name__ == "__main__":
    main(sys.argv[1:])
