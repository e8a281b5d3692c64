"""Throwaway SQLite databases for the tests, the smoke test and the benchmark: files in a temporary folder."""

import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from sqlalchemy import make_url


@asynccontextmanager
async def scratch_database(app_url: str, template: str | None = None) -> AsyncIterator[str]:
    """A new database file in a temporary folder (a copy of template's file if given); removed on exit."""
    with tempfile.TemporaryDirectory(prefix="scratch-") as folder:
        path = Path(folder) / "scratch.db"
        if template:
            shutil.copyfile(template, path)
        yield make_url(app_url).set(database=str(path)).render_as_string(hide_password=False)


class TemplateCopies:
    """A new copy of the migrated template's file for every test (copying a small file costs next to nothing)."""

    def __init__(self, app_url: str, template: str) -> None:
        self.app_url, self.template = app_url, template

    def lend(self) -> AbstractAsyncContextManager[str]:
        return scratch_database(self.app_url, self.template)

    async def close(self) -> None:
        pass


def template_copies(app_url: str, template: str) -> TemplateCopies:
    return TemplateCopies(app_url, template)
