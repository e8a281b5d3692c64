"""A new user's first run: the next steps the post-gen hook prints, run verbatim and in order on a fresh render,
end with a service that answers GET /items (for PostgreSQL and MySQL the steps create the database first)."""

import json
import shlex
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import require_mysql, require_postgres
from tests.hookhelpers import bake
from tests.pgbouncer import free_port
from tests.rendering import child_env

pytestmark = pytest.mark.slow  # renders and installs a project: scheduled first (tests/conftest.py)

START_WAIT = 60  # seconds uvicorn may take to answer before the test gives up (a hang guard, not an assertion)


def printed_steps(output: str) -> list[str]:
    """The commands under "next steps:" in the hook's output, comments dropped."""
    lines = output.splitlines()
    start = lines.index("next steps:") + 1
    steps = []
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        steps.append(line.split("  # ")[0].strip())
    return steps


def psql(database: str, sql: str) -> str:
    command = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-Atc", sql]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


def mariadb(sql: str) -> str:
    command = ["mariadb", "-h", "127.0.0.1", "-u", "root", "-N", "-B", "-e", sql]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


def throwaway(require: Callable[[], None], drop: Callable[[str], object]) -> Iterator[str]:
    """A fresh database name on a server that must be running; the database, if the steps made it, dropped after."""
    require()
    name = f"first_run_{uuid.uuid4().hex[:12]}"
    yield name
    drop(name)


@pytest.fixture
def throwaway_database() -> Iterator[str]:
    yield from throwaway(
        require_postgres, lambda name: psql("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    )


@pytest.fixture
def throwaway_mysql_database() -> Iterator[str]:
    yield from throwaway(require_mysql, lambda name: mariadb(f"DROP DATABASE IF EXISTS `{name}`"))


def get_items(port: int, server: subprocess.Popen[str]) -> dict[str, object]:
    deadline = time.monotonic() + START_WAIT
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/items", timeout=5) as response:
                return json.loads(response.read())
        except OSError as error:
            if server.poll() is not None or time.monotonic() > deadline:
                server.terminate()
                output = server.communicate(timeout=30)[0]
                raise AssertionError(f"uvicorn did not serve GET /items ({error}):\n{output}") from None
            time.sleep(0.2)


def run_steps(steps: list[str], folder: Path, env: dict[str, str]) -> dict[str, object]:
    """Each printed command in order; uvicorn starts on a free port instead of --reload and is asked GET /items."""
    items: dict[str, object] = {}
    for step in steps:
        command = shlex.split(step)
        if command[0] == "cd":
            folder = folder / command[1]
            continue
        if "uvicorn" in command[0]:
            port = free_port()
            command = [part for part in command if part != "--reload"] + ["--port", str(port)]
            server = subprocess.Popen(
                command, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            try:
                items = get_items(port, server)
            finally:
                server.terminate()
                server.wait(timeout=30)
            continue
        result = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"step {step!r} failed:\n{result.stdout}{result.stderr}"
    return items


def user_environment(extra: dict[str, str]) -> dict[str, str]:
    """The shell of a user who has not configured anything: no service settings exported."""
    settings = {"DATABASE_URL", "ADMIN_DATABASE_URL", "WORKERS", "WEB_CONCURRENCY", "SMOKE_DATABASE_URL"}
    clean = {name: value for name, value in child_env().items() if name.upper() not in settings}
    return {**clean, **extra}


def test_sqlite_first_run_follows_the_printed_steps(tmp_path: Path) -> None:
    baked = bake(tmp_path, {"database": "sqlite"}, {"TEMPLATE_STRICT": "1"})
    assert baked.exit_code == 0, baked.output
    steps = printed_steps(baked.output)
    assert not any("create_database" in step for step in steps)

    assert run_steps(steps, tmp_path, user_environment({})) == {"number": 1}


def first_run_creating_the_database(tmp_path: Path, database: str, url: str) -> None:
    """The printed steps create the database before they migrate it, and end with a service that answers."""
    baked = bake(tmp_path, {"database": database}, {"TEMPLATE_STRICT": "1"})
    assert baked.exit_code == 0, baked.output
    steps = printed_steps(baked.output)
    creates = next(i for i, step in enumerate(steps) if "create_database" in step)
    assert creates < next(i for i, step in enumerate(steps) if "alembic upgrade head" in step)

    assert run_steps(steps, tmp_path, user_environment({"DATABASE_URL": url})) == {"number": 1}


def test_postgresql_first_run_creates_the_database_then_migrates_and_serves(
    tmp_path: Path, throwaway_database: str
) -> None:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{throwaway_database}"
    first_run_creating_the_database(tmp_path, "postgresql", url)

    assert psql(throwaway_database, "SELECT version_num FROM alembic_version")  # the migration ran in the new database


def test_mysql_first_run_creates_the_database_then_migrates_and_serves(
    tmp_path: Path, throwaway_mysql_database: str
) -> None:
    url = f"mysql+asyncmy://root@127.0.0.1:3306/{throwaway_mysql_database}"
    first_run_creating_the_database(tmp_path, "mysql", url)

    charset = f"SELECT default_character_set_name FROM information_schema.schemata WHERE schema_name = '{throwaway_mysql_database}'"
    assert mariadb(charset) == "utf8mb4"  # made by create_database, so emoji fit
    assert mariadb(f"SELECT version_num FROM `{throwaway_mysql_database}`.alembic_version")  # migrated
