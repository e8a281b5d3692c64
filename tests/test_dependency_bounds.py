"""The rendered project's dependency ranges are true at both ends: its lint, mypy and suite pass with every direct
dependency at its lower bound (uv --resolution lowest-direct) and at its newest allowed release (--resolution highest).

Per driver (asyncpg, aiosqlite, asyncmy), the lower end on one variant (variants.LOWEST_END) and the upper end on
another (variants.HIGHEST_END), each render the one test_variants.py makes on the same worker, in a fresh venv. On
GitHub each runs in the matrix job of its variant.

The lower end's suite run is that variant's suite run: test_variants.py does not run it a second time at the upper
end (the driver's other variants do). The upper end is usually the variant's own .venv (the hook installs the newest
allowed releases, without the lock): when the fresh venv holds exactly the same versions, the checks test_variants.py
and test_upkeep.py run in that .venv (the whole suite, mypy, pre-commit's ruff) are the upper-end runs, and this
test does not repeat them. When the versions differ (a release came out, or the hook installed from an older cache),
it runs them here in the fresh venv.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.rendering import TEST_EXTRAS, child_env, run, tool
from tests.variants import ALL, HIGHEST_END, LOWEST_END, VARIANTS

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
    ("variant", "resolution"),
    [
        pytest.param(variant, resolution, id=f"{variant}-{resolution}", marks=pytest.mark.xdist_group(variant))
        for resolution, variants in (("lowest-direct", LOWEST_END), ("highest", HIGHEST_END))
        for variant in variants
        if variant in VARIANTS  # TEMPLATE_VARIANTS may narrow the run to other variants
    ],
)
def test_rendered_suite_passes_at_each_end_of_the_dependency_ranges(
    render_variant, database_env, tmp_path, variant: str, resolution: str
) -> None:
    answers = ALL[variant]
    project = render_variant(variant, answers)
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
