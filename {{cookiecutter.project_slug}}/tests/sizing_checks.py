"""The start-up pool sizing check against a database server's connection limit, the part both servers share.

Each database's tests pass their own way to run the check (sizing_check) and how many connections their server
offers; what they print and warn about beyond that stays in their own modules.
"""

import logging
from collections.abc import Awaitable, Callable

import pytest

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.settings import Settings

SizingCheck = Callable[..., Awaitable[str | None]]


async def start_up_warning(database_url: str, **settings: object) -> str | None:
    """Start and stop the app with these settings; the start-up sizing check's warning."""
    app = create_app(Settings(_env_file=None, database_url=database_url, **settings))  # type: ignore[arg-type]
    async with app.router.lifespan_context(app):
        return await app.state.pool_sizing_check


async def check_counts_every_replicas_workers(database_url: str, available: int, sizing_check: SizingCheck) -> None:
    """3 replicas x 2 workers of these pools do not fit in the available connections, 1 x 2 do."""
    per_worker = available // 6 + 1
    checks = {
        replicas: await sizing_check(database_url, pool_size=per_worker, max_overflow=0, workers=2, replicas=replicas)
        for replicas in (1, 3)
    }

    assert checks[1] is None
    assert checks[3] is not None
    assert f"3 replica(s) x 2 worker(s) x (pool_size {per_worker} + max_overflow 0) = {6 * per_worker}" in checks[3]


async def check_silent_when_pools_fit(
    database_url: str, caplog: pytest.LogCaptureFixture, sizing_check: SizingCheck
) -> None:
    with caplog.at_level(logging.WARNING):
        warning = await sizing_check(database_url, pool_size=2, max_overflow=1, workers=2)

    assert warning is None
    assert "pool sizing" not in caplog.text
