"""While the app runs, what its start-up made (the engine, its pool, the app) is kept out of the cyclic garbage
collector's collections (gc.freeze in main.lifespan), and handed back to it when the app stops."""

import gc

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.settings import Settings


def collected(thing: object) -> bool:
    """Whether the collector's generations hold the object (frozen objects are in none of them)."""
    return any(tracked is thing for tracked in gc.get_objects())


async def test_startup_objects_are_frozen_while_the_app_runs_and_released_when_it_stops(settings: Settings) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        pool = app.state.engine.pool
        assert gc.get_freeze_count() > 0
        assert not collected(pool)
        assert not collected(app)
    assert gc.get_freeze_count() == 0
    assert collected(pool)
