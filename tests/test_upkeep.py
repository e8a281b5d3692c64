"""Every variant stays healthy after generation: its uv.lock installs, pre-commit and mypy pass, dependabot is valid.

Each check reuses the variant's render and .venv (made once per test process by render_variant); what a check
writes (a git repository for pre-commit, the mypy cache, the locked environment) goes to temporary folders, so the
render stays as cookiecutter left it for the other tests.
"""

import json
import os
import shutil
import sys
from pathlib import Path

import check_jsonschema
import jsonschema
import pytest
import yaml

from tests.rendering import run, tool
from tests.test_variants import variants
from tests.variants import uses_database_server

# the render's own environment and caches are not part of what pre-commit sees in a fresh clone
DEPENDABOT_SCHEMA = "builtin_schemas/vendor/dependabot.json"
NOT_COMMITTED = shutil.ignore_patterns(".venv", "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache", "*.db*")


@pytest.fixture(scope="session")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One mypy cache per test process: the variants share their third-party modules, checked once."""
    return tmp_path_factory.mktemp("mypy-cache")


@variants
def test_render_lock_installs_exactly_with_uv_sync_locked(render_variant, tmp_path, name: str, answers: dict) -> None:
    project = render_variant(name, answers)
    assert (project / "uv.lock").is_file(), "the post-generation hook did not write uv.lock"
    env = {"UV_PROJECT_ENVIRONMENT": str(tmp_path / "locked")}
    # from the cache the hook's own install filled; the index only when the cache lacks something
    sync = [tool("uv"), "sync", "--quiet", "--locked", "--python", sys.executable]
    try:
        run([*sync, "--offline"], cwd=project, env=env)
    except AssertionError:
        run(sync, cwd=project, env=env)
    assert (tmp_path / "locked" / "bin" / "mypy").is_file()  # the dev group (the dev extra) is installed


@variants
def test_render_passes_pre_commit_with_nothing_fetched(render_variant, tmp_path, name: str, answers: dict) -> None:
    project = render_variant(name, answers)
    clone = tmp_path / "clone"
    shutil.copytree(project, clone, ignore=NOT_COMMITTED)
    run(["git", "init", "--quiet"], cwd=clone)
    run(["git", "add", "--all"], cwd=clone)
    env = {
        "PATH": f"{project / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}",  # the project's environment, activated
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
    }
    output = run([str(project / ".venv/bin/pre-commit"), "run", "--all-files", "--color", "never"], cwd=clone, env=env)
    assert "ruff check" in output
    assert "Failed" not in output
    assert not any((tmp_path / "pre-commit-home").glob("repo*")), "a hook repository was fetched"


@variants
def test_render_passes_mypy_strict_on_src(render_variant, mypy_cache, name: str, answers: dict) -> None:
    project = render_variant(name, answers)
    output = run([str(project / ".venv/bin/mypy"), "--cache-dir", str(mypy_cache)], cwd=project)
    assert "Success: no issues found" in output


@pytest.fixture(scope="session")
def dependabot_schema() -> jsonschema.protocols.Validator:
    """The dependabot schema check-jsonschema ships (`--builtin-schema vendor.dependabot`), read once, no network."""
    schema = json.loads((Path(check_jsonschema.__file__).parent / DEPENDABOT_SCHEMA).read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


@variants
def test_render_dependabot_config_is_valid(render_variant, dependabot_schema, name: str, answers: dict) -> None:
    project = render_variant(name, answers)
    config = yaml.safe_load((project / ".github" / "dependabot.yml").read_text(encoding="utf-8"))
    errors = [f"{list(error.absolute_path)}: {error.message}" for error in dependabot_schema.iter_errors(config)]
    assert errors == []
    assert {update["package-ecosystem"] for update in config["updates"]} == {"uv", "github-actions", "docker"}


@variants
def test_render_image_and_ci_install_from_the_lock(render_variant, name: str, answers: dict) -> None:
    project = render_variant(name, answers)
    dockerfile = (project / "Dockerfile").read_text()
    assert "COPY pyproject.toml uv.lock" in dockerfile
    assert dockerfile.count("uv sync --locked --no-dev") == 2
    assert "pip install ." not in dockerfile
    steps = yaml.safe_load((project / ".github/workflows/ci.yml").read_text())["jobs"]["test"]["steps"]
    commands = [step.get("run", "") for step in steps]
    assert any(command.startswith("uv sync --locked") for command in commands)
    assert "uv run --locked mypy" in commands
    assert any("pre-commit run --all-files" in command for command in commands)
    template = yaml.safe_load((project / ".github/workflows/ci.yml").read_text())["jobs"]["template"]
    assert {"if": "hashFiles('.cruft.json') != ''", "run": "uvx cruft check"}.items() <= template["steps"][-1].items()


@variants
def test_render_readme_quick_start_is_uv_run_commands(render_variant, name: str, answers: dict) -> None:
    project = render_variant(name, answers)
    readme = (project / "README.md").read_text(encoding="utf-8")
    run_it = readme.split("## Run it", 1)[1]
    block = run_it.split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in block.splitlines() if line.split("#", 1)[0].strip()]
    assert len(commands) == 2, block  # the schema, then the server
    assert "alembic upgrade head" in commands[0], block
    if uses_database_server(answers):  # the server may not have the database yet: the first line creates it first
        assert commands[0].index("create_database") < commands[0].index("alembic"), block
    assert all(command.startswith("uv run ") for command in commands), block
    assert 'pip install -e ".[dev]"' in run_it.split("##", 1)[0]  # the way without uv is still there
