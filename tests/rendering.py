"""Render the template and prepare a rendered project's environment, as a user would."""

import os
import signal
import subprocess
import sys
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1]
TOOLS_BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    """A command installed beside the interpreter running the tests (ruff, uv, hadolint, ...)."""
    path = TOOLS_BIN / name
    if not path.exists():
        raise FileNotFoundError(f"{name} is not installed in {TOOLS_BIN}; run the README's test command")
    return str(path)


# A shell may export PYTHONDONTWRITEBYTECODE=1 (this machine's does). A rendered project's suite starts dozens of
# Python processes (servers, workers, the smoke test); each would then compile FastAPI, SQLAlchemy, pydantic... from
# source again (about 1.5 s of CPU each). The commands run as on a developer's machine instead: the first process
# writes the bytecode cache, the next ones read it. What they test is unchanged.
NO_BYTECODE = "PYTHONDONTWRITEBYTECODE"


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a child process: this one's without NO_BYTECODE, plus `extra`."""
    return {**{name: value for name, value in os.environ.items() if name != NO_BYTECODE}, **(extra or {})}


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    """Run a command; on failure raise with its whole output so the test report shows why.

    The command runs in a process group of its own: on timeout the whole group is killed, servers a rendered suite
    started included, so nothing outlives the test.
    """
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=child_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        raise AssertionError(f"{' '.join(command)} timed out after {timeout:.0f} s in {cwd}:\n{output}") from None
    if process.returncode != 0:
        raise AssertionError(f"{' '.join(command)} exited {process.returncode} in {cwd}:\n{output}")
    return output


# the hook installs the dev extra; the variant tests add the otel one, so the project's tracing tests run too
TEST_EXTRAS = ".[dev,otel]"


def ensure_venv(project: Path) -> Path:
    """The project's .venv (the post-gen hook makes it; made here if the hook was told to skip it), with the extras
    its own suite tests (TEST_EXTRAS)."""
    python = project / ".venv" / "bin" / "python"
    if not python.exists():
        run([tool("uv"), "venv", "--quiet", str(project / ".venv")], cwd=project)
    run([tool("uv"), "pip", "install", "--quiet", "--python", str(python), "-e", TEST_EXTRAS], cwd=project)
    return python
