"""How long each checkout waited for a connection, for any SQLAlchemy queue pool.

SQLAlchemy has no "checkout started" event, so the timing wraps the pool's `_do_get`: the time a checkout spends
waiting for a free connection, or opening a new one when the pool has room. A checkout that fails (POOL_TIMEOUT
reached, the database unreachable) is reported too: it waited as well.
"""

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.pool import ConnectionPoolEntry

WaitObserver = Callable[[float], None]


class CheckoutTiming:
    """Mixin placed before a pool class: reports the seconds each `_do_get` took to `on_checkout_wait`, if set."""

    on_checkout_wait: WaitObserver | None = None

    def _do_get(self) -> ConnectionPoolEntry:
        started = time.perf_counter()
        try:
            return super()._do_get()  # type: ignore[misc,no-any-return]
        finally:
            observer = self.on_checkout_wait
            if observer is not None:
                observer(time.perf_counter() - started)

    def recreate(self) -> Any:
        # engine.dispose() replaces the pool with pool.recreate(): the new one reports to the same place
        pool = super().recreate()  # type: ignore[misc]
        pool.on_checkout_wait = self.on_checkout_wait
        return pool
