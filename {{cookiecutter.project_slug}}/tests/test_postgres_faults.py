"""PostgreSQL under faults: killed backends, a restarted server, bad credentials, leaks and shutdown.

Restart and credential faults run on a throwaway cluster (initdb + pg_ctl in a temporary folder, own port,
password authentication) so the shared server is never disturbed; the rest uses the shared server and finds
the app's connections by a per-test application_name.
"""

import asyncio
import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from glob import glob
from pathlib import Path
from uuid import uuid4

import asyncpg
import pytest

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.settings import Settings

from tests.load import Outcome, get, post_json, timed
from tests.postgres_admin import admin_fetch, direct_url
from tests.server_faults import checked_restart, checked_sigterm, checked_wrong_password, free_port, wait_until
from tests.slowapp import FAIL_EVERY, run_slow_server, send_flaky_requests

PASSWORD = "Fault-pw-7Qx2"  # the throwaway cluster's password; must never show up in output


def unique_application_name() -> str:
    return f"faults-{uuid4().hex[:12]}"


BACKEND_STATES = "SELECT pid, state FROM pg_stat_activity WHERE application_name = $1"


def app_backends(application_name: str) -> list[asyncpg.Record]:
    """The app's server connections on the shared server: pid and state."""
    return asyncio.run(admin_fetch(BACKEND_STATES, application_name))


def terminate_backends(application_name: str) -> int:
    sql = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1"
    return len(asyncio.run(admin_fetch(sql, application_name)))


# --- a throwaway PostgreSQL cluster ------------------------------------------------------------------------


def postgres_bindir() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not candidates:
        pytest.fail("these tests start their own PostgreSQL: install the server binaries (initdb, pg_ctl)")
    return Path(candidates[-1]).parent


@dataclass
class Cluster:
    folder: Path
    port: int
    bindir: Path

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, password: str = PASSWORD) -> str:
        return f"postgresql+asyncpg://postgres:{password}@127.0.0.1:{self.port}/postgres"

    def run(self, *command: str) -> None:
        # PostgreSQL refuses to run as root: as root, act as the postgres user
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=30"
        log = str(self.folder / "log")
        self.run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", log, "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self.run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """One PostgreSQL server of our own per module, with password (SCRAM) authentication over TCP."""
    folder = Path(tempfile.mkdtemp(prefix="pg-faults-"))
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chown(folder, account.pw_uid, account.pw_gid)
    (folder / "pw").write_text(PASSWORD)
    cluster = Cluster(folder, free_port(), postgres_bindir())
    cluster.run(
        str(cluster.bindir / "initdb"), "-D", str(cluster.data), "-U", "postgres", f"--pwfile={folder / 'pw'}",
        "--auth-local=trust", "--auth-host=scram-sha-256", "-N", "-E", "UTF8",
    )  # fmt: skip
    (folder / "pw").unlink()
    cluster.start()
    try:
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)


# --- killed backends and restarts ----------------------------------------------------------------------------


def test_killed_backends_are_replaced_and_only_requests_in_flight_fail_with_503(database_url: str, tmp_path) -> None:
    name = unique_application_name()
    env = {"DATABASE_URL": database_url, "APPLICATION_NAME": name, "POOL_PRE_PING": "true", "POOL_TIMEOUT": "5"}
    outcomes: list[Outcome] = []
    stop = threading.Event()

    def keep_calling(worker: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            if n % 3 == 0:  # the read path (ReaderDep)
                call = get(f"{server.base_url}/notes?limit=5", timeout=5)
            elif n % 3 == 1:
                call = post_json(f"{server.base_url}/notes", {"title": f"w{worker}-{n}"}, timeout=5)
            else:
                call = get(f"{server.base_url}/items", timeout=5)
            outcomes.append(timed(call))

    with run_slow_server(env, str(tmp_path / "server.log")) as server, ThreadPoolExecutor(6) as pool:
        workers = [pool.submit(keep_calling, worker) for worker in range(6)]
        time.sleep(0.7)
        killed_pids = {row["pid"] for row in app_backends(name)}
        killed_at = time.monotonic()
        killed = terminate_backends(name)
        wait_until(
            lambda: not killed_pids & {row["pid"] for row in app_backends(name)}, 5, "killed backends still there"
        )
        settled_at = time.monotonic()
        time.sleep(1)
        stop.set()
        for worker in workers:
            worker.result()
    log = server.output()

    failed = [outcome for outcome in outcomes if outcome.status != 200 and outcome.status != 201]
    around = [outcome for outcome in failed if outcome.finished >= killed_at]
    after = [outcome for outcome in outcomes if outcome.started > settled_at]
    print(
        f"killed {killed} backend(s) under load: {len(outcomes)} requests, {len(failed)} failed "
        f"(statuses {sorted({outcome.status for outcome in failed})}), {len(after)} after the kill all ok"
    )
    assert killed >= 1
    assert all(outcome.status == 503 for outcome in failed), failed[:3]
    assert len(failed) == len(around)
    assert len(failed) <= killed
    assert after
    assert all(outcome.status in (200, 201) for outcome in after)
    assert "Exception in ASGI application" not in log


def test_ready_follows_a_database_restart_without_restarting_the_app(cluster: Cluster, tmp_path) -> None:
    restart = checked_restart(cluster, tmp_path, PASSWORD)

    assert restart.down_seconds < 3


# --- secrets -----------------------------------------------------------------------------------------------


def test_wrong_password_is_a_503_and_never_printed(cluster: Cluster, tmp_path) -> None:
    masked_url = f"postgresql+asyncpg://postgres:***@127.0.0.1:{cluster.port}/postgres"
    checked_wrong_password(cluster, tmp_path, PASSWORD, masked_url)


# --- leaks and shutdown --------------------------------------------------------------------------------------


async def test_failing_requests_leave_no_idle_transaction(database_url: str) -> None:
    name = unique_application_name()
    app = create_app(Settings(_env_file=None, database_url=database_url, application_name=name))
    async with app.router.lifespan_context(app):
        statuses = await send_flaky_requests(app)
        checked_out = app.state.engine.pool.checkedout()
        states = [row["state"] for row in await admin_fetch(BACKEND_STATES, name)]

    print(f"after 1000 requests: {checked_out} checked out, server sessions {sorted(states)}")
    assert statuses.count(500) == 1000 // FAIL_EVERY
    assert checked_out == 0
    assert states
    assert "idle in transaction" not in states
    assert set(states) == {"idle"}


def test_sigterm_leaves_no_connection_of_the_app(database_url: str, tmp_path) -> None:
    name = unique_application_name()
    # directly: behind PgBouncer, the server connections are PgBouncer's and rightly outlive the app
    env = {"DATABASE_URL": direct_url(database_url), "APPLICATION_NAME": name, "PGBOUNCER": "false"}
    checked_sigterm(env, tmp_path, lambda: app_backends(name), exit_seconds=10, gone_seconds=3)
