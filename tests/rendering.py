"""Render the template and prepare a rendered project's environment, as a user would."""

import os
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


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    """Run a command; on failure raise with its whole output so the test report shows why."""
    result = subprocess.run(
        command,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} exited {result.returncode} in {cwd}:\n{result.stdout}")
    return result.stdout


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
