"""Replicas that start together and each run `alembic upgrade head` apply every migration exactly once: the
migration transaction takes a PostgreSQL advisory lock (migrations/env.py), which works through PgBouncer's
transaction pooling too (the lock is the transaction's)."""

import asyncio
import os
import sys
from pathlib import Path

from tests.postgres_admin import connect

PROJECT = Path(__file__).resolve().parents[1]
REPLICAS = 4


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
    output, _ = await process.communicate(b"go\n")
    return await process.wait(), output.decode(errors="replace")


async def test_concurrent_upgrades_apply_each_migration_once(empty_database_url: str) -> None:
    replicas = await asyncio.gather(*(started_replica(empty_database_url) for _ in range(REPLICAS)))
    results = await asyncio.gather(*(finished(process) for process in replicas))

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
