"""scripts/system-packages.sh on a machine that lacks the tools: as root it runs apt-get itself, as another user
through sudo, and DEBIAN_FRONTEND reaches apt-get either way. apt-get and sudo are recorders here; the PATH holds
nothing else but the few commands the script needs, so every tool looks missing."""

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.rendering import TEMPLATE

SCRIPT = TEMPLATE / "scripts" / "system-packages.sh"
PACKAGES = "pgbouncer nodejs npm wrk shellcheck"
NOBODY = 65534
RECORD = '#!/bin/sh\necho "uid=$(id -u) DEBIAN_FRONTEND=${DEBIAN_FRONTEND:-unset} $(basename "$0") $*" >> "$RECORD"\n'
SUDO = RECORD + 'exec "$@"\n'  # records, then runs the command as the same user (apt-get is a recorder too)
NEEDED = ("bash", "sh", "env", "id", "basename")


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    """A folder the unprivileged user can enter and write to (pytest's own are private to their owner)."""
    folder = Path(tempfile.mkdtemp(prefix="system-packages-"))
    folder.chmod(0o777)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def machine(tmp_path: Path, present: tuple[str, ...] = ()) -> Path:
    """A folder for PATH: recorders for apt-get and sudo, the basic commands, and the tools named as present."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in NEEDED:
        (bin_dir / name).symlink_to(shutil.which(name) or f"/bin/{name}")
    for name, text in {"apt-get": RECORD, "sudo": SUDO, **dict.fromkeys(present, "#!/bin/sh\n")}.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    shutil.copy(SCRIPT, tmp_path / SCRIPT.name)
    (tmp_path / SCRIPT.name).chmod(0o755)
    return bin_dir


def run_install(tmp_path: Path, bin_dir: Path, as_root: bool) -> list[str]:
    """Run the install step as root or as an unprivileged user; the lines apt-get and sudo recorded."""
    record = tmp_path / "record.txt"
    env = {"PATH": str(bin_dir), "RECORD": str(record), "TOOL_DIRS": ""}
    command = [str(bin_dir / "bash"), str(tmp_path / SCRIPT.name)]
    if as_root and os.geteuid() != 0:
        command = [shutil.which("unshare") or "unshare", "--map-root-user", *command]
    elif not as_root and os.geteuid() == 0:
        command = [
            shutil.which("setpriv") or "setpriv",
            f"--reuid={NOBODY}",
            f"--regid={NOBODY}",
            "--clear-groups",
            *command,
        ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, f"exit {result.returncode}:\n{result.stdout}{result.stderr}"
    return record.read_text().splitlines() if record.exists() else []


def test_install_step_as_root_runs_apt_get_itself_without_sudo(tmp_path: Path) -> None:
    lines = run_install(tmp_path, machine(tmp_path), as_root=True)

    assert lines == [
        "uid=0 DEBIAN_FRONTEND=noninteractive apt-get update -qq",
        f"uid=0 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {PACKAGES}",
    ]


def test_install_step_as_a_user_goes_through_sudo_and_keeps_the_frontend_setting(tmp_path: Path) -> None:
    lines = run_install(tmp_path, machine(tmp_path), as_root=False)

    uid = NOBODY if os.geteuid() == 0 else os.geteuid()
    assert lines == [
        f"uid={uid} DEBIAN_FRONTEND=unset sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq",
        f"uid={uid} DEBIAN_FRONTEND=noninteractive apt-get update -qq",
        f"uid={uid} DEBIAN_FRONTEND=unset sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {PACKAGES}",
        f"uid={uid} DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {PACKAGES}",
    ]


@pytest.mark.parametrize("as_root", [True, False], ids=["root", "user"])
def test_install_step_installs_only_what_is_missing(tmp_path: Path, as_root: bool) -> None:
    lines = run_install(tmp_path, machine(tmp_path, present=("pgbouncer", "node", "npm")), as_root=as_root)

    assert lines[-1].endswith("apt-get install -y -qq wrk shellcheck")


def test_install_step_does_nothing_when_every_tool_is_there(tmp_path: Path) -> None:
    present = ("pgbouncer", "node", "npm", "wrk", "shellcheck")

    assert run_install(tmp_path, machine(tmp_path, present=present), as_root=True) == []


def test_template_shell_scripts_pass_shellcheck() -> None:
    scripts = [str(path) for path in (TEMPLATE / "scripts").glob("*.sh")] + [str(TEMPLATE / ".ci" / "run")]
    subprocess.run(["shellcheck", "--severity=style", *scripts], check=True, timeout=60)
