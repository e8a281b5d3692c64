"""Run the real cookiecutter CLI on this template, and load the hook scripts as modules, for test_hooks.py."""

import importlib.util
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from tests.rendering import child_env

TEMPLATE = Path(__file__).resolve().parents[1]
HOOKS = TEMPLATE / "hooks"
# Settings the hooks read from the environment: each test states its own instead of inheriting the caller's
HOOK_VARIABLES = (
    "TEMPLATE_SKIP_SMOKE",
    "TEMPLATE_STRICT",
    "TEMPLATE_KEEP_VENV",
    "TEMPLATE_INSTALLER",
    "TEMPLATE_SMOKE_DATABASE_URL",
    "ADMIN_DATABASE_URL",
)
CLOSED_PORT_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:1/postgres"  # nothing listens on port 1


def load_hook(name: str) -> ModuleType:
    """hooks/<name>.py imported as it is in the template (unrendered: the Jinja sits inside string literals)."""
    return load_module(HOOKS / f"{name}.py", f"template_hook_{name}")


def load_module(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class body runs
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Baked:
    exit_code: int
    output: str
    output_dir: Path
    seconds: float

    @property
    def leftovers(self) -> list[str]:
        return sorted(str(path.relative_to(self.output_dir)) for path in self.output_dir.iterdir())

    def project(self, slug: str = "order-service") -> Path:
        return self.output_dir / slug


def bake(
    output_dir: Path,
    answers: dict[str, object],
    env: dict[str, str] | None = None,
    template: Path = TEMPLATE,
    timeout: float = 600,
) -> Baked:
    """`cookiecutter --no-input -o output_dir template key=value ...` in a child process, output captured."""
    output_dir.mkdir(parents=True, exist_ok=True)
    extra_context = [f"{key}={value}" for key, value in answers.items()]
    command = [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(output_dir), str(template), *extra_context]
    inherited = {name: value for name, value in child_env().items() if name not in HOOK_VARIABLES}
    started = time.monotonic()
    result = subprocess.run(
        command,
        cwd=output_dir,
        env={**inherited, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Baked(result.returncode, result.stdout, output_dir, time.monotonic() - started)


def copy_template(target: Path) -> Path:
    """A copy of this template to change in a test (e.g. to break it on purpose)."""
    shutil.copytree(TEMPLATE, target, ignore=shutil.ignore_patterns(".git", ".venv", "__pycache__", ".*_cache"))
    return target


def text_files(root: Path) -> list[Path]:
    """Every text file of a rendered project, outside its .venv and caches."""
    skipped = {".venv", "__pycache__", ".ruff_cache", ".pytest_cache"}
    files = []
    for path in root.rglob("*"):
        if path.is_file() and not skipped.intersection(path.relative_to(root).parts):
            try:
                path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue
            files.append(path)
    return files


def mentions(root: Path, markers: tuple[str, ...]) -> list[str]:
    """'path: marker' for each marker found in a project's files or file names."""
    found = []
    for path in text_files(root):
        relative = str(path.relative_to(root))
        text = path.read_text(encoding="utf-8")
        found += [f"{relative}: {marker}" for marker in markers if marker in text or marker in relative]
    return found
