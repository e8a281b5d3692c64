"""The contract between db.py and the database backend module rendered beside it (one per database).

db.py assigns the rendered module to a variable of this type, so mypy checks that the module provides every function
with the right signature (a module satisfies a Protocol as an object would).
"""

from contextvars import ContextVar
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from {{ cookiecutter.package_name }}.settings import Settings

# True while the read path (db.Reader) checks a connection out for autocommit: a backend whose pre-ping opens the
# transaction the checkout is for must not open one then; its pre-ping may skip the round trip too, since the read
# path runs a statement again on a new connection when its connection turns out to be lost
AUTOCOMMIT_CHECKOUT: ContextVar[bool] = ContextVar("autocommit_checkout", default=False)


class Backend(Protocol):
    def connect_args(self, settings: Settings) -> dict[str, Any]:
        """Arguments for the driver's connect(), from the settings."""
        ...

    def prepare_engine(self, engine: AsyncEngine, settings: Settings) -> None:
        """Event listeners and dialect tweaks the engine needs before its first connection."""
        ...

    def read_isolation_level(self, settings: Settings) -> str | None:
        """The isolation level of the read path's connections: "AUTOCOMMIT" when statements can safely run
        without a transaction, None to keep the engine's (each statement then runs as a session's would, in a
        transaction of its own if the driver opens one)."""
        ...

    async def check_pool_sizing(self, engine: AsyncEngine, settings: Settings, workers: int) -> str | None:
        """A warning (already logged) when `workers` full pools would not fit the database, else None."""
        ...


def sizing_problem(settings: Settings, workers: int, capacity: int, offer: str, remedy: str) -> str | None:
    """The sizing warning when every replica's workers' full pools may open more than `capacity` connections: the
    arithmetic, what the other side offers (`offer`), and what to change (`remedy` after the pool's own settings);
    None when they fit."""
    needed = settings.replicas * workers * (settings.pool_size + settings.max_overflow)
    if needed <= capacity:
        return None
    return (
        f"pool sizing: {settings.replicas} replica(s) x {workers} worker(s) x (pool_size {settings.pool_size} "
        f"+ max_overflow {settings.max_overflow}) = {needed} connections, but {offer}; "
        f"lower POOL_SIZE/MAX_OVERFLOW or the number of replicas or workers, or {remedy}"
    )
