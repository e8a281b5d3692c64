"""A statement in one trip to aiosqlite's thread.

aiosqlite runs each call on a thread of its own per connection, and every call is a trip there and back: the work is
queued, and its answer comes back through the event loop. SQLAlchemy's adapter makes four trips per statement
(open a cursor, execute, fetch all rows, close the cursor). Under load each trip also waits for the event loop to let
go of the GIL, so four trips cost a read more than its query. `OneTripConnection` does the same four steps in one
function on the thread: a statement is one trip, rows and all (docs/sqlite.md has the measurements).

It relies on two private parts, which is why aiosqlite is capped below 0.23 and SQLAlchemy below 2.2 in
pyproject.toml: aiosqlite's `Connection._execute` (queue a function for the thread) and `_conn` (its sqlite3
connection), and the adapter's `_handle_exception` (turn a driver error into SQLAlchemy's). Server-side cursors
(`AsyncConnection.stream`) keep SQLAlchemy's own, which fetch as they go.
"""

from collections import deque
from collections.abc import Iterator, Sequence
from sqlite3 import Connection
from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_connection
from sqlalchemy.util import await_only  # await_ from 2.1 on; await_only is in 2.0 and 2.1

# what one trip brings back: description, rows, rowcount, lastrowid
Outcome = tuple[Any, list[Any], int, int | None]


def _on_thread(connection: Connection, many: bool, operation: str, parameters: Any) -> Outcome:
    """On aiosqlite's thread: the statement (once, or once per parameter set), its rows, and the cursor closed."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneTripCursor:
    """The DBAPI cursor SQLAlchemy uses for a buffered result, filled in one trip; rows are read from memory after.

    No lock is needed around a statement (SQLAlchemy 2.1's adapter takes one across its four trips): one trip is one
    item in aiosqlite's queue, run whole before the next.
    """

    server_side = False

    def __init__(self, adapted: AsyncAdapt_aiosqlite_connection) -> None:
        self._adapted = adapted
        self.arraysize = 1
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: deque[Any] = deque()

    def _run(self, many: bool, operation: str, parameters: Any) -> None:
        driver = self._adapted.driver_connection
        try:
            # _conn raises ValueError("no active connection") once closed, as SQLAlchemy's own first trip would,
            # and the adapter turns that into the same OperationalError
            outcome: Outcome = await_only(driver._execute(_on_thread, driver._conn, many, operation, parameters))
        except Exception as error:
            self._adapted._handle_exception(error)
        self.description, rows, self.rowcount, self.lastrowid = outcome
        self._rows = deque(rows)

    def execute(self, operation: str, parameters: Any = None) -> None:
        self._run(False, operation, parameters)

    def executemany(self, operation: str, seq_of_parameters: Any) -> None:
        self._run(True, operation, seq_of_parameters)

    def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    def fetchmany(self, size: int | None = None) -> Sequence[Any]:
        count = min(self.arraysize if size is None else size, len(self._rows))
        return [self._rows.popleft() for _ in range(count)]

    def fetchall(self) -> Sequence[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows

    def __iter__(self) -> Iterator[Any]:
        while self._rows:
            yield self._rows.popleft()

    def close(self) -> None:
        self._rows.clear()  # the driver's cursor was closed on the thread

    async def _async_soft_close(self) -> None:
        """Called by SQLAlchemy's async results before they are read: nothing is left open to close."""

    def setinputsizes(self, *sizes: Any) -> None:
        pass


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """SQLAlchemy's aiosqlite adapter with `OneTripCursor` for buffered results. It adds no state, so a connection
    the adapter made becomes one by changing its class (sqlite.prepare_engine does, as each connection opens)."""

    __slots__ = ()

    def cursor(self, server_side: bool = False) -> Any:
        return super().cursor(server_side=True) if server_side else OneTripCursor(self)
