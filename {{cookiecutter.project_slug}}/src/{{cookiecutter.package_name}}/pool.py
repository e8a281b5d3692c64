"""The connection pool: SQLAlchemy's asyncio queue pool, made fair, with overflow connections kept warm.

Fair: requests that wait for a connection are served in arrival order, and none waits while the pool has room. A
connection that comes back goes to the request that has waited longest; a slot that frees without a connection
coming back (a connect that failed, an idle overflow connection closed) is handed to that request, which opens a
connection in it at once. SQLAlchemy's queue lets a request that just arrived take a returned connection before the
waiting ones wake up, and leaves its waiters asleep when a slot frees, so there a request can time out while the
pool has room to spare.

Warm: SQLAlchemy closes an overflow connection the moment it comes back while `pool_size` others sit idle, so under
steady load a little above `pool_size` it reconnects every few requests. Here a returned overflow connection waits
up to `overflow_idle_timeout` seconds for the next request (0: closed at once, as SQLAlchemy does); a timer closes
it after that, off every request's path.

The limits are SQLAlchemy's: never more than `pool_size + max_overflow` connections, `pool_timeout` to wait for one,
`pool_size` kept when idle. The measurements behind both changes are in docs/pool.md. This class overrides private
methods of SQLAlchemy's QueuePool, which is why pyproject.toml caps SQLAlchemy below the next minor release.
"""

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from sqlalchemy import exc
from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry
from sqlalchemy.util import await_only, greenlet_spawn
from sqlalchemy.util import queue as sqla_queue

REAPING_MARGIN_SECONDS = 0.05

# What a waiter is handed: a connection, or None: a free slot to open a connection in
Handed = ConnectionPoolEntry | None


class PoolDisposedError(exc.SQLAlchemyError):
    """The pool was disposed while a request waited for a connection."""


class FairWarmPool(AsyncAdaptedQueuePool):
    """AsyncAdaptedQueuePool that serves waiting requests in arrival order, hands them freed slots at once, and
    closes an overflow connection after `overflow_idle_timeout` idle seconds instead of at once."""

    def __init__(
        self, creator: Any, overflow_idle_timeout: float = 30.0, clock: Callable[[], float] = time.monotonic, **kw: Any
    ) -> None:
        super().__init__(creator, **kw)
        self._overflow_idle_timeout = overflow_idle_timeout
        self._clock = clock  # the model-based test runs the pool on virtual time
        # idle overflow connections with the time each came back, oldest first
        self._spare: deque[tuple[ConnectionPoolEntry, float]] = deque()
        # requests waiting for a connection, oldest first
        self._waiters: deque[asyncio.Future[Handed]] = deque()
        self._reaper: asyncio.TimerHandle | None = None
        self._closing: set[asyncio.Task[None]] = set()  # idle overflow connections being closed by the reaper
        self._generation = 0  # counts dispose() calls

    @property
    def overflow_idle_timeout(self) -> float:
        return self._overflow_idle_timeout

    # Checkout. Idle connections exist only while nobody waits (whatever comes back goes to the first waiter),
    # and a slot is free only while nobody waits (a freed slot goes to the first waiter too), so a request that
    # takes either never jumps the line.

    def _do_get(self) -> ConnectionPoolEntry:
        try:
            return self._pool.get(False)  # the kept ones first, so that overflow ones go idle and get closed
        except sqla_queue.Empty:
            pass
        if self._spare:
            return self._spare.pop()[0]  # the most recently used: the warmest
        if self._inc_overflow():
            return self._open_in_slot()
        handed = self._wait()
        return self._open_in_slot() if handed is None else handed

    def _open_in_slot(self) -> ConnectionPoolEntry:
        """Open a connection in a slot this request holds; when that fails, the slot passes to the next waiter."""
        try:
            return self._create_connection()
        except BaseException:
            self._free_slot()
            raise

    def _wait(self) -> Handed:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Handed] = loop.create_future()
        self._waiters.append(waiter)
        timer = loop.call_later(self._timeout, self._expire, waiter)
        try:
            return await_only(waiter)
        except BaseException:
            # cancelled after being handed a connection or a slot, before this request resumed: pass it on
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._pass_on(waiter.result())
            raise
        finally:
            timer.cancel()

    def _expire(self, waiter: asyncio.Future[Handed]) -> None:
        if waiter.done():
            return
        waiter.set_exception(
            exc.TimeoutError(
                f"QueuePool limit of size {self.size()} overflow {self._max_overflow} reached, "
                f"connection timed out, timeout {self._timeout:0.2f}",
                code="3o7r",
            )
        )
        self._waiters.remove(waiter)  # so that requests timing out in a stalled pool do not pile up

    # Hand-off

    def _hand_over(self, handed: Handed) -> bool:
        """Give a connection or a free slot to the request that has waited longest; False when nobody waits."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():  # a waiter that was cancelled is done already
                waiter.set_result(handed)
                return True
        return False

    def _pass_on(self, handed: Handed) -> None:
        if handed is None:
            self._free_slot()
        else:
            self._do_return_conn(handed)

    def _free_slot(self) -> None:
        """A slot freed without a connection coming back: the longest waiter gets it, or it counts as free."""
        if not self._hand_over(None):
            self._dec_overflow()

    # Return

    def _do_return_conn(self, record: ConnectionPoolEntry) -> None:
        if self._hand_over(record):
            return
        try:
            self._pool.put(record, False)
            return
        except sqla_queue.Full:  # pool_size connections are idle already: this one is overflow
            pass
        loop = _running_loop()
        if self._overflow_idle_timeout <= 0 or loop is None:  # no loop (sync use): no timer to close it later
            try:
                record.close()
            finally:
                self._free_slot()
            return
        self._spare.append((record, self._clock()))
        if self._reaper is None:
            self._schedule_reaping(loop)

    # Reaping idle overflow connections, on a timer

    def _schedule_reaping(self, loop: asyncio.AbstractEventLoop) -> None:
        # just after the oldest idle spare comes due (timers may fire a little early)
        due = self._spare[0][1] + self._overflow_idle_timeout
        delay = max(0.0, due - self._clock()) + REAPING_MARGIN_SECONDS
        self._reaper = loop.call_later(delay, self._reap, loop)

    def _reap(self, loop: asyncio.AbstractEventLoop) -> None:
        self._reaper = None
        cutoff = self._clock() - self._overflow_idle_timeout
        while self._spare and self._spare[0][1] <= cutoff:
            record, _ = self._spare.popleft()
            task = loop.create_task(self._close_then_free_slot(record))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        if self._spare:
            self._schedule_reaping(loop)

    async def _close_then_free_slot(self, record: ConnectionPoolEntry) -> None:
        """The slot stays taken until the connection is closed: the server never sees more than the limit."""
        generation = self._generation
        try:
            await greenlet_spawn(record.close)
        finally:
            if generation == self._generation:  # after dispose(), the count it would change is reset already
                self._free_slot()

    # Reporting: idle overflow connections are idle, not checked out

    def checkedin(self) -> int:
        return super().checkedin() + len(self._spare)

    def checkedout(self) -> int:
        return super().checkedout() - len(self._spare)

    def status(self) -> str:
        return f"{super().status()} Idle overflow connections: {len(self._spare)}"

    # Disposal

    def dispose(self) -> None:
        """Close every idle connection, fail the waiting requests, and finish the reaper's closes; what goes
        wrong on the way does not stop the rest (the first error is raised at the end)."""
        self._generation += 1
        waiters, self._waiters = self._waiters, deque()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(PoolDisposedError("the connection pool was closed while this request waited"))
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None
        first_error: BaseException | None = None
        while self._spare:  # one at a time: the others stay idle (and countable) while one closes
            record, _ = self._spare.popleft()
            try:
                record.close()
            except BaseException as error:
                first_error = first_error or error
        try:
            self._finish_closing()
        finally:
            try:
                super().dispose()  # closes the kept connections and resets the overflow count
            finally:
                if first_error is not None:
                    raise first_error

    def _finish_closing(self) -> None:
        """Wait for the reaper's closes in flight; outside SQLAlchemy's async bridge, cancel them instead."""
        closing, self._closing = self._closing, set()
        if not closing:
            return
        try:
            await_only(asyncio.gather(*closing, return_exceptions=True))
        except exc.MissingGreenlet:
            for task in closing:
                task.cancel()

    def recreate(self) -> "FairWarmPool":
        pool = super().recreate()
        assert isinstance(pool, FairWarmPool)
        pool._overflow_idle_timeout = self._overflow_idle_timeout
        pool._clock = self._clock
        return pool


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
