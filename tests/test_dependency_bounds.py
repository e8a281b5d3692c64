"""The rendered project's dependency ranges are true at both ends: its lint, mypy and suite pass with every direct
dependency at its lower bound (uv --resolution lowest-direct) and at its newest allowed release (--resolution highest).

Per driver (asyncpg, aiosqlite, asyncmy), the lower end on one variant (variants.LOWEST_END) and the upper end on
another (variants.HIGHEST_END), each render the one test_variants.py makes on the same worker. On GitHub each runs in
the matrix job of its variant.

The lower end's suite run is that variant's suite run: test_variants.py does not run it a second time at the upper
end (the driver's other variants do). The upper end is usually the variant's own .venv (the hook installs the newest
allowed releases, without the lock): when uv resolves --resolution highest to exactly the versions in it, the checks
test_variants.py and test_upkeep.py run in that .venv (the whole suite, mypy, pre-commit's ruff) are the upper-end
runs, and this test does not repeat them. When the versions differ (a release came out, or the hook installed from an
older cache), it installs them in a fresh venv and runs the checks there.
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
MYPY_AT_LOWEST = LOWEST_END[0]


def installed(python: str, project: Path) -> list[str]:
    """name==version of every distribution in an environment, the project itself (installed editable) left out."""
    frozen = run([tool("uv"), "pip", "freeze", "--python", python], cwd=project)
    return sorted(line for line in frozen.splitlines() if "==" in line)


def resolved_highest(project: Path) -> list[str]:
    """name==version of what --resolution highest would install with the test extras, resolved without installing."""
    extras = [arg for extra in TEST_EXTRAS.strip(".[]").split(",") for arg in ("--extra", extra)]
    resolved = run(
        [tool("uv"), "pip", "compile", "--quiet", "--resolution", "highest", *extras, "pyproject.toml"], project
    )
    return sorted(line.split()[0] for line in resolved.splitlines() if "==" in line and not line.startswith(" "))


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
    uv = tool("uv")
    if resolution == "highest" and resolved_highest(project) == installed(str(project / ".venv/bin/python"), project):
        return  # the variant's .venv is this end: its suite, mypy and ruff run in test_variants.py / test_upkeep.py
    venv = tmp_path / resolution
    python = str(venv / "bin" / "python")
    run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], cwd=project)
    run(
        [uv, "pip", "install", "--quiet", "--python", python, "--resolution", resolution, "-e", TEST_EXTRAS],
        cwd=project,
    )
    versions = " ".join(line for line in installed(python, project) if DIRECT.match(line))

    # the project's own checks, as its CI runs them: lint with its own ruff, type-check with its own mypy (strict,
    # src/), then its suite (stop at the first failure). mypy runs at the lower end on one render (MYPY_AT_LOWEST): the
    # drivers bring no types the source uses (asyncpg ships none; sqlite.py and mysql.py import no driver), so the
    # other renders would repeat the same check of the same code; at the highest end, tests/test_upkeep.py runs it in
    # every variant's .venv
    run([str(venv / "bin" / "ruff"), "check", "--no-cache", "."], cwd=project)
    run([str(venv / "bin" / "ruff"), "format", "--no-cache", "--check", "."], cwd=project)
    if resolution == "highest" or variant == MYPY_AT_LOWEST:
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
