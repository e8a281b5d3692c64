"""Fixtures shared by the template's tests: rendered variants, the local PostgreSQL and MariaDB, PgBouncer."""

import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.rendering import TEMPLATE, ensure_venv
from tests.variants import ALL, uses_mysql, uses_pgbouncer, uses_postgresql

POSTGRES = ("127.0.0.1", 5432)
MYSQL = ("127.0.0.1", 3306)


def pytest_configure(config: pytest.Config) -> None:
    # The template's own runs are strict: a smoke test that cannot run fails instead of warning
    os.environ.setdefault("TEMPLATE_STRICT", "1")


def work_order(item: pytest.Item) -> int:
    """Longest work first. `--dist loadgroup` hands out the groups with the most tests first and keeps this order among
    the rest: the variants on a database server (whose suites take longest) before the SQLite ones, then the ungrouped
    tests that render and install a project (marked slow), then the quick ones; so the run does not end with one
    process alone on a long piece of work while the other has nothing left."""
    group = item.get_closest_marker("xdist_group")
    if group is not None:
        answers = ALL.get(str(group.args[0]), {})
        return 1 if answers.get("database") == "sqlite" else 0
    return 2 if item.get_closest_marker("slow") else 3


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=work_order)  # stable: the collection order stays within each rank


def require_server(name: str, address: tuple[str, int], start: str) -> None:
    try:
        socket.create_connection(address, timeout=3).close()
    except OSError as error:
        pytest.fail(
            f"{name} is not reachable at {address[0]}:{address[1]} ({error}); these tests need a real server. "
            f"Start it ({start}) or run .ci/run, which does.",
            pytrace=False,
        )


def require_postgres() -> None:
    require_server("PostgreSQL", POSTGRES, "e.g. `pg_ctlcluster 15 main start`")


def require_mysql() -> None:
    require_server("MariaDB/MySQL", MYSQL, "e.g. `service mariadb start`")


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the hooks that cookiecutter runs as child processes."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="session")
def pgbouncer_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A real PgBouncer in transaction pooling mode in front of the local PostgreSQL, for the whole run."""
    from tests.pgbouncer import running_pgbouncer

    require_postgres()
    with running_pgbouncer(tmp_path_factory.mktemp("pgbouncer")) as port:
        yield port


@pytest.fixture(scope="session")
def database_env(request: pytest.FixtureRequest) -> Callable[[dict[str, object]], dict[str, str]]:
    """The environment a rendered project of these answers needs to reach its real database."""

    def env_for(answers: dict[str, object]) -> dict[str, str]:
        if uses_mysql(answers):
            require_mysql()
            return {}
        if not uses_postgresql(answers):
            return {}
        require_postgres()
        if not uses_pgbouncer(answers):
            return {}
        port = request.getfixturevalue("pgbouncer_port")
        through_pgbouncer = f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres"
        # DATABASE_URL for the project's own suite; the hook's smoke test ignores it and reads its own variable
        return {"DATABASE_URL": through_pgbouncer, "TEMPLATE_SMOKE_DATABASE_URL": through_pgbouncer}

    return env_for


@pytest.fixture(scope="session")
def render_variant(
    cookies_session, database_env: Callable[[dict[str, object]], dict[str, str]]
) -> Callable[[str, dict[str, object]], Path]:
    """Render a variant once per test process (with its hooks, smoke test included) and return its folder."""
    rendered: dict[str, Path] = {}

    def render(name: str, answers: dict[str, object]) -> Path:
        if name not in rendered:
            with environment(database_env(answers)):
                result = cookies_session.bake(extra_context=answers, template=str(TEMPLATE))
            assert result.exception is None, f"rendering {name} failed: {result.exception!r}"
            assert result.exit_code == 0
            ensure_venv(result.project_path)
            rendered[name] = result.project_path
        return rendered[name]

    return render
