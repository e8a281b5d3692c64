"""MySQL and MariaDB under faults: a stopped and restarted server, bad credentials, failing requests, shutdown.

Stopping the server and password authentication need a server of our own: a throwaway MariaDB (mariadb-install-db
and mariadbd in a temporary folder, its own port), started once for the module, so the shared server is never
disturbed. The rest uses the shared server and finds the app's connections by their database (each test has its own).
"""

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncmy  # type: ignore[import-untyped]  # ships no type hints
import pytest
from sqlalchemy import insert, make_url

from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.models import Note
from {{ cookiecutter.package_name }}.settings import Settings

from tests.mysql_admin import admin_fetch, connect, connection_ids
from tests.server_faults import checked_restart, checked_sigterm, checked_wrong_password, free_port
from tests.slowapp import FAIL_EVERY, send_flaky_requests

PASSWORD = "Fault-pw-7Qx2"  # the throwaway server's application password; must never show up in output
APP_USER = "app"
DATABASE = "faults"
START_SECONDS = 120  # how long the throwaway server may take to answer (a hang guard on a busy machine)


def app_connections(database: str) -> list[int]:
    """The processlist ids of the connections using this database on the shared server."""
    return asyncio.run(connection_ids(database))


# --- a throwaway MariaDB server ------------------------------------------------------------------------------


def mariadb_program(*names: str) -> str:
    for name in names:
        found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")
        if found:
            return found
    pytest.fail(f"these tests start their own MariaDB: install the server ({' or '.join(names)})", pytrace=False)


def as_root_user() -> list[str]:
    # mariadbd refuses to run as root unless told to; a normal user runs it as itself
    return ["--user=root"] if os.geteuid() == 0 else []


async def run_statements(url: str, *statements: str) -> None:
    connection = await connect(url)
    try:
        async with connection.cursor() as cursor:
            for statement in statements:
                await cursor.execute(statement)
    finally:
        await connection.ensure_closed()


@dataclass
class MariaDB:
    folder: Path
    port: int
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def admin_url(self) -> str:
        return f"mysql+asyncmy://root@127.0.0.1:{self.port}/"

    def url(self, password: str = PASSWORD) -> str:
        return f"mysql+asyncmy://{APP_USER}:{password}@127.0.0.1:{self.port}/{DATABASE}"

    def install(self) -> None:
        command = [
            mariadb_program("mariadb-install-db", "mysql_install_db"),
            "--no-defaults",
            f"--datadir={self.folder / 'data'}",
            "--auth-root-authentication-method=normal",  # root over TCP without a password: the admin
            "--skip-test-db",
            *as_root_user(),
        ]
        done = subprocess.run(command, capture_output=True, timeout=START_SECONDS)
        if done.returncode:
            output = (done.stdout + done.stderr).decode(errors="replace")
            raise RuntimeError(f"mariadb-install-db failed ({done.returncode}):\n{output}")

    def start(self) -> None:
        command = [
            mariadb_program("mariadbd", "mysqld"),
            "--no-defaults",
            f"--datadir={self.folder / 'data'}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            f"--socket={self.folder / 'socket'}",
            f"--pid-file={self.folder / 'pid'}",
            f"--log-error={self.folder / 'error.log'}",
            "--skip-name-resolve",
            "--max-connections=30",
            "--innodb-buffer-pool-size=16M",
            *as_root_user(),
        ]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                asyncio.run(run_statements(self.admin_url, "SELECT 1"))
                return
            except (OSError, asyncmy.errors.OperationalError):  # refused, or not accepting connections yet
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"MariaDB did not start:\n{self.error_log()}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        """A clean shutdown (SIGTERM); SIGKILL if it takes too long."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(START_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def error_log(self) -> str:
        path = self.folder / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""


@pytest.fixture(scope="module")
def mariadb() -> Iterator[MariaDB]:
    """One MariaDB server of our own per module, with an application account that has a password."""
    folder = Path(tempfile.mkdtemp(prefix="mariadb-faults-"))
    server = MariaDB(folder, free_port())
    try:
        server.install()
        server.start()
        asyncio.run(
            run_statements(
                server.admin_url,
                f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4",
                f"CREATE USER '{APP_USER}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}'",
                f"GRANT ALL ON {DATABASE}.* TO '{APP_USER}'@'127.0.0.1'",
            )
        )
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


# --- a stopped and restarted server ------------------------------------------------------------------------


def test_ready_follows_a_database_restart_without_restarting_the_app(mariadb: MariaDB, tmp_path) -> None:
    restart = checked_restart(mariadb, tmp_path, PASSWORD)

    assert restart.items_down.headers["retry-after"] == "1"


# --- secrets -----------------------------------------------------------------------------------------------


def test_wrong_password_is_a_503_and_never_printed(mariadb: MariaDB, tmp_path) -> None:
    masked_url = f"mysql+asyncmy://{APP_USER}:***@127.0.0.1:{mariadb.port}/{DATABASE}"
    log = checked_wrong_password(mariadb, tmp_path, PASSWORD, masked_url)

    assert "Access denied" in log  # the server's refusal is logged, and names no password


# --- leaks and shutdown (on the shared server) ---------------------------------------------------------------

# the app's transactions that InnoDB holds open, and what the app's connections are doing
OPEN_TRANSACTIONS = (
    "SELECT t.trx_id FROM information_schema.innodb_trx t "
    "JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id WHERE p.db = %s"
)
COMMANDS = "SELECT command FROM information_schema.processlist WHERE db = %s AND id <> CONNECTION_ID()"


async def test_failing_requests_leave_no_open_transaction(database_url: str) -> None:
    name = str(make_url(database_url).database)
    app = create_app(Settings(_env_file=None, database_url=database_url))
    async with app.router.lifespan_context(app):
        async with app.state.engine.connect() as connection:  # the probe sees an open transaction of the app
            await connection.execute(insert(Note).values(title="left open"))
            seen_open = await admin_fetch(OPEN_TRANSACTIONS, name)
        statuses = await send_flaky_requests(app)
        checked_out = app.state.engine.pool.checkedout()
        open_transactions = await admin_fetch(OPEN_TRANSACTIONS, name)
        commands = [row[0] for row in await admin_fetch(COMMANDS, name)]

    print(f"after 1000 requests: {checked_out} checked out, {len(open_transactions)} open transaction(s), {commands}")
    assert len(seen_open) == 1
    assert statuses.count(500) == 1000 // FAIL_EVERY
    assert statuses.count(200) == 1000 - 1000 // FAIL_EVERY
    assert checked_out == 0
    assert open_transactions == []
    assert commands
    assert set(commands) == {"Sleep"}


def test_sigterm_leaves_no_connection_of_the_app(database_url: str, tmp_path) -> None:
    name = str(make_url(database_url).database)
    env = {"DATABASE_URL": database_url}

    output = checked_sigterm(env, tmp_path, lambda: app_connections(name), exit_seconds=30, gone_seconds=30)

    assert "Application shutdown complete" in output
