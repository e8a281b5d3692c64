"""The PgBouncer variant's rendered CI runs its suite through a PgBouncer in transaction pooling mode: this test
takes the workflow's own pgbouncer.ini, user list, health check and environment out of the rendered ci.yml, starts
that PgBouncer (on a free port, files in a folder of its own) in front of the local PostgreSQL, runs the health check,
then runs part of the project's suite with the workflow's DATABASE_URL through it."""

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import require_postgres
from tests.hookhelpers import bake
from tests.pgbouncer import running_pgbouncer
from tests.rendering import ensure_venv, run

pytestmark = pytest.mark.slow  # renders and installs a project: scheduled first (tests/conftest.py)

WORKFLOW_PORT = "6432"


def workflow(project: Path) -> dict:
    return yaml.safe_load((project / ".github/workflows/ci.yml").read_text())["jobs"]["test"]


def step_running(steps: list[dict], text: str) -> dict:
    return next(step for step in steps if text in step.get("run", ""))


def ini_of(script: str) -> str:
    """The lines the setup step's printf writes to /etc/pgbouncer/pgbouncer.ini."""
    printf = script.split("printf '%s\\n'", 1)[1].split("| sudo tee /etc/pgbouncer/pgbouncer.ini", 1)[0]
    return "\n".join(re.findall(r"'([^']*)'", printf)) + "\n"


def test_pgbouncer_variant_ci_runs_the_suite_through_its_own_pgbouncer(tmp_path: Path) -> None:
    require_postgres()
    baked = bake(tmp_path, {"database": "postgresql-pgbouncer"}, {"TEMPLATE_SKIP_SMOKE": "1"})
    assert baked.exit_code == 0, baked.output
    project = baked.project()
    job = workflow(project)
    steps = job["steps"]
    setup = step_running(steps, "apt-get install")
    health = step_running(steps, "psql -h 127.0.0.1 -p 6432")
    suite = step_running(steps, "uv run --locked pytest")
    assert steps.index(setup) < steps.index(health) < steps.index(suite)
    assert "pgbouncer" in setup["run"].split("apt-get install", 1)[1].splitlines()[0]
    assert job["env"]["PGBOUNCER"] == "true"
    assert f"127.0.0.1:{WORKFLOW_PORT}/" in job["env"]["DATABASE_URL"]

    ini = ini_of(setup["run"])
    assert "pool_mode = transaction" in ini.splitlines()
    userlist = re.search(r"echo '([^']*)' \| sudo tee /etc/pgbouncer/userlist.txt", setup["run"]).group(1) + "\n"
    local = (
        ini.replace(f"listen_port = {WORKFLOW_PORT}", "listen_port = {port}").replace(
            "auth_file = /etc/pgbouncer/userlist.txt", "auth_file = {folder}/userlist.txt"
        )
        + "pidfile = {folder}/pgbouncer.pid\nlogfile = {folder}/pgbouncer.log\n"
    )
    python = ensure_venv(project)

    with running_pgbouncer(tmp_path / "pgbouncer", config=local, userlist=userlist) as port:
        check = health["run"].replace(f"-p {WORKFLOW_PORT}", f"-p {port}")
        result = subprocess.run(
            ["bash", "-c", check], env={**os.environ, **health["env"]}, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stdout + result.stderr
        env = {name: str(value).replace(f":{WORKFLOW_PORT}/", f":{port}/") for name, value in job["env"].items()}
        output = run(
            [
                str(python),
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:randomly",
                "tests/test_postgres_migrations.py",
                "tests/test_items.py",
            ],
            cwd=project,
            env=env,
        )
    assert " passed" in output
