"""Post-generation: delete the files of the variant not chosen, write uv.lock, then smoke-test the new project in
its own .venv.

Standard library only (it runs with cookiecutter's interpreter), and valid Python before rendering, so the
template's tests import ONLY_FOR and the helpers below instead of repeating them.

Settings (environment variables, see the template README "Hook settings"):
  TEMPLATE_SKIP_SMOKE=1  prune and write uv.lock only: no environment and no smoke test
  TEMPLATE_STRICT=1      anything not verified (database unreachable, offline install) fails generation
  TEMPLATE_KEEP_VENV=0   delete the project's .venv after the smoke test
  TEMPLATE_INSTALLER     auto (default: uv if found, else venv + pip), uv or pip
  TEMPLATE_SMOKE_DATABASE_URL  the server the smoke test uses instead of the rendered DATABASE_URL (e.g. a
                         PgBouncer on another port); ADMIN_DATABASE_URL is passed through as it is

In cruft's temporary renders (`cruft update` and `cruft diff` render the old and the new template into temporary
folders and copy the difference into the project) the hook prunes only: see is_cruft_scratch_render.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

DATABASE = "{{ 'postgresql' if cookiecutter.__driver_module == 'postgres' else cookiecutter.__driver_module }}"  # sqlite, postgresql or mysql
PACKAGE = "{{ cookiecutter.package_name }}"
PROJECT_SLUG = "{{ cookiecutter.project_slug }}"
URL_SCHEME = "{{ cookiecutter.__url_scheme }}"
CRUFT_COMMIT = "{{ cookiecutter.get('_commit', '') }}"  # the template commit; only cruft puts it in the context
POOL = {
    "pool_size": "{{ cookiecutter.pool_size }}",
    "max_overflow": "{{ cookiecutter.max_overflow }}",
    "pool_timeout": "{{ cookiecutter.pool_timeout }}",
    "pool_recycle": "{{ cookiecutter.pool_recycle }}",
    "pool_pre_ping": "{{ cookiecutter.__pool_pre_ping }}",
}

ONLY_FOR: dict[str, tuple[str, ...]] = {  # file (relative to the project, {package} = package_name) -> who keeps it
    "src/{package}/sqlite.py": ("sqlite",),
    "src/{package}/sqlite_cursor.py": ("sqlite",),
    "src/{package}/postgres.py": ("postgresql",),
    "src/{package}/pgbouncer_console.py": ("postgresql",),
    "src/{package}/mysql.py": ("mysql",),
    "src/{package}/create_database.py": ("postgresql", "mysql"),
    "docs/sqlite.md": ("sqlite",),
    "docs/postgres.md": ("postgresql",),
    "docs/mysql.md": ("mysql",),
    "tests/test_postgres_pool.py": ("postgresql",),
    "tests/test_postgres_faults.py": ("postgresql",),
    "tests/test_postgres_workers.py": ("postgresql",),
    "tests/test_postgres_ping.py": ("postgresql",),
    "tests/test_postgres_migrations.py": ("postgresql",),
    "tests/test_postgres_log_masking.py": ("postgresql",),
    "tests/postgres_admin.py": ("postgresql",),
    "tests/scratch_postgres.py": ("postgresql",),
    "tests/test_mysql.py": ("mysql",),
    "tests/test_mysql_faults.py": ("mysql",),
    "tests/mysql_admin.py": ("mysql",),
    "tests/scratch_mysql.py": ("mysql",),
    "tests/scratch_sqlite.py": ("sqlite",),
    "tests/test_sqlite_trips.py": ("sqlite",),
    "tests/scratch_server.py": ("postgresql", "mysql"),
    "tests/test_scratch_copies.py": ("postgresql", "mysql"),
    "tests/replicas.py": ("postgresql", "mysql"),
    "tests/sizing_checks.py": ("postgresql", "mysql"),
    "tests/server_faults.py": ("postgresql", "mysql"),
    "scripts/bench_postgres.py": ("postgresql",),
    "scripts/bench_sqlite.py": ("sqlite",),
    "scripts/bench_mysql.py": ("mysql",),
}

SKIP_SMOKE = "TEMPLATE_SKIP_SMOKE"
STRICT = "TEMPLATE_STRICT"
KEEP_VENV = "TEMPLATE_KEEP_VENV"
INSTALLER = "TEMPLATE_INSTALLER"
SMOKE_DATABASE_URL = "TEMPLATE_SMOKE_DATABASE_URL"

# Interpreter settings that would point the new .venv's Python elsewhere. PYTHONDONTWRITEBYTECODE goes too:
# the .venv is new, and its bytecode cache makes the smoke test's second process (the server) start faster.
INTERPRETER_VARIABLES = frozenset({"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONDONTWRITEBYTECODE"})

# Words in installer output that mean the network (or an offline cache), not the project, is the problem
NETWORK_TROUBLE = re.compile(
    r"network|connect|offline|resolve|dns|timed? ?out|unreachable|name or service not known|no route to host"
    r"|temporary failure|proxy|certificate|ssl|not found in the cache",
    re.IGNORECASE,
)

INSTALL_TIMEOUT = 900
SMOKE_TIMEOUT = 300
EXIT_BROKEN = 1
EXIT_ENVIRONMENT = 2


@dataclass
class Outcome:
    """What the hook found out: passed, not verified (a warning) or broken, with the text to show."""

    status: str  # "passed" | "unverified" | "broken"
    message: str
    details: list[str] = field(default_factory=list)


def unused_files(database: str, package: str) -> list[str]:
    return [path.format(package=package) for path, owners in ONLY_FOR.items() if database not in owners]


def remove_unused_files(root: Path, database: str, package: str) -> list[str]:
    removed = []
    for path in unused_files(database, package):
        (root / path).unlink(missing_ok=True)
        removed.append(path)
    return removed


def flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    return value in ("1", "true", "yes", "y", "on")


def load_redaction(root: Path, package: str) -> ModuleType:
    """The project's own redaction.py (standard library only at import time): the hook masks as the service does."""
    spec = importlib.util.spec_from_file_location(f"{package}_redaction", root / "src" / package / "redaction.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def mask_passwords(text: str) -> str:
    return load_redaction(Path.cwd(), PACKAGE).mask_passwords(text)


def smoke_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment without interpreter redirections. The service's own settings stay: the smoke test
    (--rendered) drops every variable its Settings read, so it checks the answers rendered into the project.

    TEMPLATE_SMOKE_DATABASE_URL, when set, becomes the smoke test's SMOKE_DATABASE_URL: the one deliberate way to
    point it at another server than the answers did.
    """
    clean = {name: value for name, value in env.items() if name.upper() not in INTERPRETER_VARIABLES}
    if env.get(SMOKE_DATABASE_URL):
        clean["SMOKE_DATABASE_URL"] = env[SMOKE_DATABASE_URL]
    return clean


def venv_python(root: Path) -> Path:
    if os.name == "nt":
        return root / ".venv" / "Scripts" / "python.exe"
    return root / ".venv" / "bin" / "python"


def find_uv() -> str | None:
    """uv from PATH, else the one shipped in the `uv` Python package next to cookiecutter, if any."""
    found = shutil.which("uv")
    if found:
        return found
    try:
        from uv import find_uv_bin  # type: ignore[import-not-found]

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        return None


def choose_installer(env: Mapping[str, str]) -> tuple[str, str | None]:
    """("uv", path) or ("pip", None) as TEMPLATE_INSTALLER asks; auto prefers uv for speed."""
    wanted = env.get(INSTALLER, "auto").strip().lower() or "auto"
    uv = find_uv() if wanted in ("auto", "uv") else None
    if uv:
        return "uv", uv
    return "pip", None


def install_commands(installer: str, uv: str | None, python: Path) -> list[list[list[str]]]:
    """Steps to create .venv and install the project with its dev extra; each step lists commands to try in turn."""
    project = ["-e", ".[dev]"]
    if installer == "uv" and uv:
        interpreter = ["--python", sys.executable] if sys.version_info >= (3, 11) else []
        install = [uv, "pip", "install", "--quiet", "--python", str(python), *project]
        return [
            [[uv, "venv", "--quiet", "--allow-existing", *interpreter, ".venv"]],
            # the warm cache usually holds everything: try without the network first, then with it
            [[*install[:3], "--offline", *install[3:]], install],
        ]
    return [
        [[sys.executable, "-m", "venv", ".venv"]],
        [[str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *project]],
    ]


def run(command: list[str], root: Path, env: Mapping[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=root, env=dict(env), capture_output=True, text=True, timeout=timeout, check=False
    )


def tail(text: str, lines: int = 40) -> list[str]:
    return mask_passwords(text).rstrip().splitlines()[-lines:]


def install_hint(installer: str) -> str:
    if installer == "uv":
        return 'uv venv .venv && uv pip install -e ".[dev]"'
    return 'python3 -m venv .venv && .venv/bin/pip install -e ".[dev]"'


def create_environment(root: Path, env: Mapping[str, str]) -> Outcome | None:
    """Build .venv from the project's own pyproject.toml; None when it is ready, else why not."""
    installer, uv = choose_installer(env)
    if installer == "pip" and sys.version_info < (3, 11):
        return Outcome(
            "unverified",
            f"no uv found and this Python is {sys.version.split()[0]}; the project needs Python >= 3.11",
            [f"install it yourself with Python 3.11+: {install_hint('pip')}"],
        )
    for step in install_commands(installer, uv, venv_python(root)):
        for command in step:
            try:
                result = run(command, root, env, INSTALL_TIMEOUT)
            except (OSError, subprocess.TimeoutExpired) as error:
                result = subprocess.CompletedProcess(command, 1, "", f"{type(error).__name__}: {error}")
            if result.returncode == 0:
                break
        else:
            output = result.stdout + result.stderr
            shown = ["$ " + " ".join(result.args), *tail(output)]
            if NETWORK_TROUBLE.search(output):
                return Outcome(
                    "unverified",
                    "the project's dependencies could not be installed (network or package index unavailable)",
                    [*shown, f"install them later: {install_hint(installer)}"],
                )
            return Outcome(
                "broken",
                "installing the project from its own pyproject.toml failed",
                [*shown, f"reproduce: {install_hint(installer)}"],
            )
    return None


LOCK_TIMEOUT = 300
# Python's tempfile.mkdtemp() names: "tmp" and 8 characters, directly in the temporary folder
SCRATCH_FOLDER = re.compile(r"tmp[a-z0-9_]{8}")


def is_cruft_scratch_render(root: Path, cruft_commit: str) -> bool:
    """True in the throwaway copies `cruft update`/`cruft diff` render to compute a template change.

    cruft (and only cruft) puts the template commit in the context as `_commit`; `cruft create` renders into the
    folder the user chose, while update and diff render into a fresh tempfile.TemporaryDirectory and discard it.
    A .venv, uv.lock or smoke test there would be thrown away (or, worse, diffed into the user's project).
    """
    if not cruft_commit:
        return False
    folder = root.resolve().parent
    return bool(SCRATCH_FOLDER.fullmatch(folder.name)) and folder.parent == Path(tempfile.gettempdir()).resolve()


def write_lock(root: Path, env: Mapping[str, str]) -> str | None:
    """Write uv.lock for the new project with uv, from its cache first, then from the index.

    None when written, else the reason (a line for the summary); the project is kept either way.
    """
    uv = find_uv()
    if uv is None:
        return "uv.lock not written: uv not found (install uv, then run `uv lock` in the project)"
    command = [uv, "lock", "--quiet"]
    for attempt in ([*command, "--offline"], command):
        try:
            result = run(attempt, root, env, LOCK_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as error:
            result = subprocess.CompletedProcess(attempt, 1, "", f"{type(error).__name__}: {error}")
        if result.returncode == 0:
            return None
    why = tail(result.stdout + result.stderr, 3)
    return f"uv.lock not written ({' / '.join(why) or 'uv lock failed'}); run `uv lock` in the project later"


def answered_pool(pool: Mapping[str, str]) -> dict[str, object]:
    """The pool as the smoke test reports it, computed from the answers given at render time."""
    return {
        "pool_size": int(pool["pool_size"]),
        "max_overflow": int(pool["max_overflow"]),
        "pool_timeout": float(pool["pool_timeout"]),
        "pool_recycle": int(pool["pool_recycle"]),
        "pool_pre_ping": pool["pool_pre_ping"] == "True",
    }


def check_answers_applied(report: Mapping[str, object], pool: Mapping[str, str], scheme: str) -> str | None:
    """The smoke test passed; did it run with the driver and pool the user asked for?"""
    expected, used, database = answered_pool(pool), report.get("pool"), str(report.get("database", ""))
    if used != expected:
        return f"the smoke test ran with pool {used!r}, but the answers were {expected!r}"
    if not database.startswith(f"{scheme}://"):
        return f"the smoke test ran on {database!r}, but the answers chose {scheme}"
    return None


def read_report(stdout: str) -> dict[str, object] | None:
    """The smoke test's report: the JSON object on the last line of its output."""
    lines = stdout.strip().splitlines()
    try:
        report = json.loads(lines[-1]) if lines else None
    except ValueError:
        return None
    return report if isinstance(report, dict) else None


def smoke_command() -> str:
    python = ".venv\\Scripts\\python" if os.name == "nt" else ".venv/bin/python"
    return f"{python} -m tests.smoke"


def run_smoke(root: Path, env: Mapping[str, str]) -> Outcome:
    command = [str(venv_python(root)), "-m", "tests.smoke", "--rendered", "--json"]
    try:
        result = run(command, root, env, SMOKE_TIMEOUT)
    except subprocess.TimeoutExpired as error:
        captured = error.stdout or ""
        output = captured.decode(errors="replace") if isinstance(captured, bytes) else captured
        return Outcome("broken", f"the smoke test did not finish within {SMOKE_TIMEOUT} s", tail(output))
    output = result.stdout + result.stderr
    if result.returncode == 0:
        report = read_report(result.stdout)
        if report is None:
            return Outcome("broken", "the smoke test passed but printed no JSON report", tail(output))
        wrong = check_answers_applied(report, POOL, URL_SCHEME)
        if wrong:
            return Outcome("broken", wrong, tail(output))
        return Outcome("passed", "smoke test passed", [str(line) for line in report.get("summary", [])])
    if result.returncode == EXIT_ENVIRONMENT:
        return Outcome("unverified", "the database server could not be reached", tail(output, 10))
    return Outcome("broken", f"the smoke test failed (exit code {result.returncode})", tail(output))


def next_steps(venv_kept: bool = True) -> list[str]:
    steps = [(f"cd {PROJECT_SLUG}", "")]
    if not venv_kept:
        steps.append((install_hint(choose_installer(os.environ)[0]), f"{KEEP_VENV}=0 removed it"))
    steps.append(("cp .env.example .env", "adjust DATABASE_URL and the pool"))
    if DATABASE != "sqlite":
        steps.append((f".venv/bin/python -m {PACKAGE}.create_database", "create the database if it is missing"))
    steps += [
        (".venv/bin/alembic upgrade head", "create the schema"),
        (f".venv/bin/uvicorn {PACKAGE}.main:app --reload", "then open http://127.0.0.1:8000/docs"),
        (smoke_command(), "rerun the smoke test any time"),
    ]
    width = max(len(command) for command, _ in steps)
    return ["next steps:"] + [f"  {command:<{width}}  # {why}".rstrip(" #") for command, why in steps]


def describe(outcome: Outcome, timings: Mapping[str, float], strict: bool, venv_kept: bool = True) -> tuple[str, int]:
    """The text to print and the hook's exit code for an outcome; timings: seconds per step ("venv", "smoke")."""
    rerun = f"cd {PROJECT_SLUG} && {smoke_command()}"
    if outcome.status == "passed":
        took = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in timings.items())
        lines = [f"{PROJECT_SLUG}: {outcome.message} ({DATABASE}; {took})"]
        lines += [f"  {line}" for line in outcome.details[1:]]  # the smoke's own first line repeats the verdict
        return "\n".join([*lines, *next_steps(venv_kept)]), 0
    if outcome.status == "unverified":
        lines = [
            f"WARNING: {PROJECT_SLUG} was generated but NOT verified: {outcome.message}.",
            "  not checked: the app serving GET /items and /health/ready, migrations, the notes round trip, "
            f"and the {URL_SCHEME} engine with {' '.join(f'{key}={value}' for key, value in POOL.items())}",
            *[f"  | {line}" for line in outcome.details],
            f"  run the smoke test later: {rerun}",
        ]
        if strict:
            lines.append(f"  {STRICT}=1: a check that could not run counts as a failure")
            return "\n".join(lines), 1
        return "\n".join([*lines, *next_steps(venv_kept)]), 0
    lines = [
        f"FAILED: {PROJECT_SLUG} is broken: {outcome.message}",
        *[f"  | {line}" for line in outcome.details],
        "  reproduce: generate again with --keep-project-on-failure, then: " + rerun,
    ]
    return "\n".join(lines), 1


def main() -> int:
    root = Path.cwd()
    env = os.environ
    remove_unused_files(root, DATABASE, PACKAGE)
    if is_cruft_scratch_render(root, CRUFT_COMMIT):
        print(f"{PROJECT_SLUG}: cruft's temporary render of template commit {CRUFT_COMMIT[:12]}: pruned only")
        return 0
    clean = smoke_environment(env)
    lock_problem = write_lock(root, clean)
    if lock_problem:
        print(f"WARNING: {PROJECT_SLUG}: {lock_problem}", file=sys.stderr)
    if flag(env, SKIP_SMOKE, default=False):
        print(
            f"{PROJECT_SLUG}: smoke test skipped ({SKIP_SMOKE}=1); run it later: cd {PROJECT_SLUG} && {smoke_command()}"
        )
        return 0
    started = time.monotonic()
    outcome = create_environment(root, clean)
    timings = {".venv": time.monotonic() - started}
    if outcome is None:
        started = time.monotonic()
        outcome = run_smoke(root, clean)
        timings["smoke test"] = time.monotonic() - started
    venv_kept = flag(env, KEEP_VENV, default=True)
    if not venv_kept:
        shutil.rmtree(root / ".venv", ignore_errors=True)
    text, code = describe(outcome, timings, strict=flag(env, STRICT, default=False), venv_kept=venv_kept)
    print(text, file=sys.stdout if code == 0 and outcome.status == "passed" else sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
