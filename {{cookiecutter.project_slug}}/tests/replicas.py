"""Replicas of the app that each run `alembic upgrade head` at the same moment, as a deployment starts them.

Each replica loads alembic and the modules it is given, prints "ready" and waits for the go on its stdin, so that
the upgrades start together however long the imports take. The test holds the replicas at a database lock of its own
(a database-specific gate) and checks with check_migrations_ran_once afterwards.
"""

import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
REPLICAS = 4
# alembic's own version table, empty: to alembic, a database no migration has touched yet
VERSION_TABLE = (
    "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
    "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
)


def replica_program(*modules: str) -> str:
    """The Python a replica runs: imports, "ready", the go, then the upgrade."""
    imports = "".join(f"import {module}; " for module in modules)
    return (
        f"import sys; from alembic.config import main; {imports}"
        "print('ready', flush=True); sys.stdin.readline(); main(['upgrade', 'head'])"
    )


async def started_replica(program: str, database_url: str) -> asyncio.subprocess.Process:
    """A replica that has loaded everything and waits for the go."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        program,
        cwd=PROJECT,
        env={**os.environ, "DATABASE_URL": database_url},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    assert await process.stdout.readline() == b"ready\n"
    return process


async def released_replicas(program: str, database_url: str) -> list[asyncio.subprocess.Process]:
    """REPLICAS replicas, started together and, once all are ready, told to go."""
    replicas = list(await asyncio.gather(*(started_replica(program, database_url) for _ in range(REPLICAS))))
    for process in replicas:
        assert process.stdin is not None
        process.stdin.write(b"go\n")
        await process.stdin.drain()
    return replicas


async def finished(replicas: Sequence[asyncio.subprocess.Process]) -> list[tuple[int, str]]:
    """Each replica's exit code and output, once all have ended."""

    async def one(process: asyncio.subprocess.Process) -> tuple[int, str]:
        output, _ = await process.communicate()
        return await process.wait(), output.decode(errors="replace")

    return list(await asyncio.gather(*(one(process) for process in replicas)))


def check_migrations_ran_once(results: list[tuple[int, str]], versions: Sequence[object]) -> None:
    """Every replica succeeded, no migration ran twice, and the version table holds one row."""
    for code, output in results:
        assert code == 0, output
        assert "already exists" not in output, output
    assert len(versions) == 1
    applied = sum(output.count("Running upgrade") for _, output in results)
    assert applied == len(list((PROJECT / "migrations" / "versions").glob("*.py")))
