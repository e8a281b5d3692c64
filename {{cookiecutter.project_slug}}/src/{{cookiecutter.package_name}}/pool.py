"""The connection pool: SQLAlchemy's asyncio queue pool, except that overflow connections stay warm for a while.

SQLAlchemy's pool keeps `pool_size` connections and closes each overflow connection the moment it is returned
while `pool_size` others sit idle. Under steady load a little above `pool_size` that means a reconnect (for a
database server: a new server process, authentication, a TLS attempt) every few requests; measured with
scripts/bench.py at 64 clients on a 5 + 10 pool, over a hundred reconnects in six seconds and a quarter of the
throughput. Here a returned overflow connection waits up to `overflow_idle_timeout` seconds for the next request
before it is closed, as a driver's own pool commonly does with idle connections. The limits are SQLAlchemy's: never
more than `pool_size + max_overflow` connections, `pool_timeout` to wait for one, `pool_size` kept when idle.
"""

import asyncio
import time
from collections import deque
from typing import Any

from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry
from sqlalchemy.util import greenlet_spawn
from sqlalchemy.util import queue as sqla_queue


class WarmOverflowPool(AsyncAdaptedQueuePool):
    """AsyncAdaptedQueuePool whose overflow connections are closed after `overflow_idle_timeout` idle seconds
    instead of at once; 0 gives SQLAlchemy's behaviour."""

    def __init__(self, creator: Any, overflow_idle_timeout: float = 30.0, **kw: Any) -> None:
        super().__init__(creator, **kw)
        self._overflow_idle_timeout = overflow_idle_timeout
        # idle overflow connections with the time each came back, oldest first
        self._spare: deque[tuple[ConnectionPoolEntry, float]] = deque()
        self._reaper: asyncio.TimerHandle | None = None
        self._reaping: set[asyncio.Task[None]] = set()

    @property
    def overflow_idle_timeout(self) -> float:
        return self._overflow_idle_timeout

    def _do_return_conn(self, record: ConnectionPoolEntry) -> None:
        if self._overflow_idle_timeout <= 0:
            super()._do_return_conn(record)
            return
        try:
            self._pool.put(record, False)
        except sqla_queue.Full:  # pool_size connections are idle already: this one is overflow
            self._spare.append((record, time.monotonic()))
            self._schedule_reaping()
        self._close_idle_spares()

    def _do_get(self) -> ConnectionPoolEntry:
        # the kept connections first, so that overflow ones go idle (and closed) once load falls below pool_size
        try:
            return self._pool.get(False)
        except sqla_queue.Empty:
            pass
        self._close_idle_spares()
        if self._spare:
            return self._spare.pop()[0]  # the most recently used: the warmest
        return super()._do_get()  # a new overflow connection, or wait for a returned one

    def _close_idle_spares(self) -> None:
        cutoff = time.monotonic() - self._overflow_idle_timeout
        while self._spare and self._spare[0][1] <= cutoff:
            record, _ = self._spare.popleft()
            try:
                record.close()
            finally:
                self._dec_overflow()

    def _schedule_reaping(self) -> None:
        """Close idle spares on time even when no request comes to do it."""
        if self._reaper is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not on an event loop (sync use): closing waits for the next checkout or return
            return
        self._reaper = loop.call_later(self._overflow_idle_timeout, self._reap, loop)

    def _reap(self, loop: asyncio.AbstractEventLoop) -> None:
        self._reaper = None
        task = loop.create_task(greenlet_spawn(self._close_idle_spares))
        self._reaping.add(task)
        task.add_done_callback(self._reaped)

    def _reaped(self, task: asyncio.Task[None]) -> None:
        self._reaping.discard(task)
        if not task.cancelled() and self._spare:
            self._schedule_reaping()

    def checkedin(self) -> int:
        return super().checkedin() + len(self._spare)

    def checkedout(self) -> int:
        return super().checkedout() - len(self._spare)

    def status(self) -> str:
        return f"{super().status()} Idle overflow connections: {len(self._spare)}"

    def dispose(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None
        while self._spare:
            record, _ = self._spare.pop()
            record.close()
        super().dispose()  # closes the kept connections and resets the overflow count

    def recreate(self) -> "WarmOverflowPool":
        pool = super().recreate()
        assert isinstance(pool, WarmOverflowPool)
        pool._overflow_idle_timeout = self._overflow_idle_timeout
        return pool
