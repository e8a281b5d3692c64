"""A real PgBouncer for the tests: transaction pooling in front of the local PostgreSQL, on a free port.

Usage: `with running_pgbouncer(tmp_path) as port:` then connect to postgresql+asyncpg://postgres@127.0.0.1:{port}/NAME.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

POSTGRES_HOST, POSTGRES_PORT = "127.0.0.1", 5432
PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
RUN_AS = "postgres"  # pgbouncer refuses to run as root: as root, it runs as this user; otherwise as the caller
START_TIMEOUT_SECONDS = 15
STOP_TIMEOUT_SECONDS = 10

CONFIG = """\
[databases]
; wildcard: every database name (the tests' throwaway ones too) goes to the local server under that name
* = host={postgres_host} port={postgres_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
pool_mode = transaction
; the local server trusts 127.0.0.1; clients are checked against the user list only
auth_type = trust
auth_file = {folder}/userlist.txt
admin_users = postgres
max_client_conn = 1000
default_pool_size = 20
max_db_connections = 40
pidfile = {folder}/pgbouncer.pid
logfile = {folder}/pgbouncer.log
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def transactions(port: int) -> int:
    """How many transactions the PgBouncer on this port has passed on so far, from its admin console (SHOW TOTALS)."""
    totals = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", "pgbouncer", "-At", "-c", "SHOW TOTALS"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    return int(dict(line.split("|") for line in totals.splitlines() if "|" in line)["total_xact_count"])


def stop(folder: Path) -> None:
    """SIGTERM (immediate shutdown) by pidfile, SIGKILL if it lingers."""
    pidfile = folder / "pgbouncer.pid"
    if not pidfile.exists():
        return
    pid = int(pidfile.read_text().strip())
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not alive(pid):
            return
        os.kill(pid, sig)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)


@contextmanager
def running_pgbouncer(workdir: Path, config: str = CONFIG, userlist: str = '"postgres" ""\n') -> Iterator[int]:
    """Start PgBouncer, yield its port once it accepts connections, stop it and remove its files on exit.

    config: the pgbouncer.ini, with {port} and {folder} (and {postgres_host}, {postgres_port}) filled in here.

    Its config lives in a folder of its own that user postgres can read (pytest's tmp folders are private to
    root); its log is copied to workdir/pgbouncer.log when it stops."""
    folder = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    try:
        port = free_port()
        config_file = folder / "pgbouncer.ini"
        config_file.write_text(
            config.format(postgres_host=POSTGRES_HOST, postgres_port=POSTGRES_PORT, port=port, folder=folder)
        )
        (folder / "userlist.txt").write_text(userlist)
        as_root = os.geteuid() == 0
        if as_root:
            for path in (folder, *folder.iterdir()):
                shutil.chown(path, user=RUN_AS)
        started = subprocess.run(
            [*(["runuser", "-u", RUN_AS, "--"] if as_root else []), PGBOUNCER, "-d", str(config_file)],
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_SECONDS,
        )
        if started.returncode != 0:
            raise RuntimeError(f"pgbouncer did not start ({started.returncode}): {started.stdout}{started.stderr}")
        try:
            deadline = time.monotonic() + START_TIMEOUT_SECONDS
            while not accepts(port):
                if time.monotonic() > deadline:
                    log = folder / "pgbouncer.log"
                    raise RuntimeError(
                        f"pgbouncer not accepting on port {port}:\n{log.read_text() if log.exists() else ''}"
                    )
                time.sleep(0.05)
            yield port
        finally:
            stop(folder)
            if (folder / "pgbouncer.log").exists():
                workdir.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(folder / "pgbouncer.log", workdir / "pgbouncer.log")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
