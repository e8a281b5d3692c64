"""Replicas that start together and each run `alembic upgrade head` apply every migration exactly once: the
migration transaction takes a PostgreSQL advisory lock (migrations/env.py), which works through PgBouncer's
transaction pooling too (the lock is the transaction's)."""

import asyncio
import os
import sys
from pathlib import Path

from sqlalchemy import make_url

from tests.postgres_admin import admin_fetch, connect, direct_url

PROJECT = Path(__file__).resolve().parents[1]
REPLICAS = 4
PILE_UP_SECONDS = 30  # how long the replicas may take to reach the held lock (a hang guard, not a timing)
# alembic's own version table, as `alembic downgrade base` leaves it: empty
VERSION_TABLE = (
    "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
    "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
)


# Each replica loads alembic and the project, says so, then waits for the go: the upgrades start at the same moment
REPLICA = (
    "import sys; from alembic.config import main; import {{ cookiecutter.package_name }}.settings; "
    "print('ready', flush=True); sys.stdin.readline(); main(['upgrade', 'head'])"
)


async def started_replica(database_url: str) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        REPLICA,
        cwd=PROJECT,
        env={**os.environ, "DATABASE_URL": database_url},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    assert await process.stdout.readline() == b"ready\n"
    return process


async def finished(process: asyncio.subprocess.Process) -> tuple[int, str]:
    output, _ = await process.communicate()
    return await process.wait(), output.decode(errors="replace")


async def waiting_for_locks(database: str) -> int:
    """The server connections to this database that wait for a lock (a table's or an advisory one)."""
    query = "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'"
    return int((await admin_fetch(query, database))[0][0])


async def test_concurrent_upgrades_apply_each_migration_once(empty_database_url: str) -> None:
    """The race made certain rather than likely: the test holds the (empty) version table locked until every replica
    waits for a lock, so without the advisory lock all of them read "no version" and run the first migration at once.
    With it, one waits for the table and the others for the advisory lock, behind it."""
    database = str(make_url(empty_database_url).database)
    holder = await connect(direct_url(empty_database_url))
    try:
        await holder.execute(VERSION_TABLE)
        hold = holder.transaction()
        await hold.start()
        await holder.execute("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")
        replicas = await asyncio.gather(*(started_replica(empty_database_url) for _ in range(REPLICAS)))
        for process in replicas:
            assert process.stdin is not None
            process.stdin.write(b"go\n")
            process.stdin.close()
        waiting = 0
        for _ in range(PILE_UP_SECONDS * 10):
            waiting = await waiting_for_locks(database)
            if waiting >= REPLICAS or any(process.returncode is not None for process in replicas):
                break
            await asyncio.sleep(0.1)
        await hold.rollback()
    finally:
        await holder.close()
    results = await asyncio.gather(*(finished(process) for process in replicas))
    assert waiting == REPLICAS, f"{waiting} of {REPLICAS} replicas reached the locks: {results}"

    for code, output in results:
        assert code == 0, output
        assert "already exists" not in output, output
    connection = await connect(empty_database_url)
    try:
        versions = await connection.fetch("SELECT version_num FROM alembic_version")
    finally:
        await connection.close()
    assert len(versions) == 1
    applied = sum(output.count("Running upgrade") for _, output in results)
    assert applied == len(list((PROJECT / "migrations" / "versions").glob("*.py")))
