"""The rendered project's dependency ranges are true at both ends: its lint, mypy and suite pass with every direct
dependency at its lower bound (uv --resolution lowest-direct) and at its newest allowed release (--resolution highest).

One PostgreSQL render (the variant whose render test_variants.py already makes on the same worker), one fresh venv
per end. The CI workflow's `lowest` and `highest` jobs do the same on GitHub.

The variant's own .venv is usually already the highest end (the hook installs the newest allowed releases, without
the lock): when the fresh highest venv holds exactly the same versions, the checks that test_variants.py and
test_upkeep.py run in that .venv (the whole suite, mypy, pre-commit's ruff) are the highest-end runs, and this test
does not run them a second time. When the versions differ (a release came out, or the hook installed from an older
cache), it runs them here in the fresh venv.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.rendering import TEST_EXTRAS, child_env, run, tool
from tests.variants import ALL, VARIANTS

VARIANT = "postgresql-default-pool"
# the packages the rendered pyproject.toml names; their installed versions go into the failure message
DIRECT = re.compile(
    r"^(alembic|fastapi|prometheus-client|pydantic-settings|sqlalchemy|uvicorn|asyncpg|asyncmy|aiosqlite|httpx|pytest"
    r"|pytest-asyncio|ruff|schemathesis|starlette|pydantic|mypy|pre-commit|pre-commit-hooks)==",
    re.IGNORECASE,
)
SUITE_TIMEOUT = 600


def installed(python: str, project: Path) -> list[str]:
    """name==version of every distribution in an environment, the project itself (installed editable) left out."""
    frozen = run([tool("uv"), "pip", "freeze", "--python", python], cwd=project)
    return sorted(line for line in frozen.splitlines() if "==" in line)


@pytest.mark.slow
@pytest.mark.parametrize(
    "resolution",
    [
        pytest.param(resolution, marks=pytest.mark.xdist_group(VARIANT))
        for resolution in ("lowest-direct", "highest")
        if VARIANT in VARIANTS  # TEMPLATE_VARIANTS may narrow the run to other variants
    ],
)
def test_rendered_suite_passes_at_each_end_of_the_dependency_ranges(
    render_variant, database_env, tmp_path, resolution: str
) -> None:
    answers = ALL[VARIANT]
    project = render_variant(VARIANT, answers)
    venv = tmp_path / resolution
    python = str(venv / "bin" / "python")
    uv = tool("uv")
    run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], cwd=project)
    run(
        [uv, "pip", "install", "--quiet", "--python", python, "--resolution", resolution, "-e", TEST_EXTRAS],
        cwd=project,
    )
    frozen = installed(python, project)
    versions = " ".join(line for line in frozen if DIRECT.match(line))
    if resolution == "highest" and frozen == installed(str(project / ".venv" / "bin" / "python"), project):
        return  # the variant's .venv is this end: its suite, mypy and ruff run in test_variants.py / test_upkeep.py

    # the project's own checks, as its CI runs them: lint with its own ruff, type-check with its own mypy (strict,
    # src/; at the highest end, tests/test_upkeep.py already runs it in every variant's .venv), then its suite (stop
    # at the first failure)
    run([str(venv / "bin" / "ruff"), "check", "--no-cache", "."], cwd=project)
    run([str(venv / "bin" / "ruff"), "format", "--no-cache", "--check", "."], cwd=project)
    if resolution != "highest":
        run([str(venv / "bin" / "mypy"), "--cache-dir", str(tmp_path / "mypy-cache")], cwd=project)
    result = subprocess.run(
        [python, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env=child_env(database_env(answers)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=SUITE_TIMEOUT,
    )
    assert result.returncode == 0, (
        f"the rendered suite fails with dependencies at --resolution {resolution} ({versions}); raise the lower "
        f"bound (or cap) of the package at fault in {{{{cookiecutter.project_slug}}}}/pyproject.toml:\n"
        f"{result.stdout[-6000:]}"
    )
    assert re.search(r"\d+ passed", result.stdout), result.stdout
