"""Replicas that start together and each run `alembic upgrade head` apply every migration exactly once: the
migration transaction takes a PostgreSQL advisory lock (migrations/env.py), which works through PgBouncer's
transaction pooling too (the lock is the transaction's)."""

import asyncio

from sqlalchemy import make_url

from tests.postgres_admin import admin_fetch, connect, direct_url
from tests.replicas import VERSION_TABLE, check_migrations_ran_once, finished, released_replicas, replica_program

PILE_UP_SECONDS = 30  # how long the replicas may take to reach the held lock (a hang guard, not a timing)
# Each replica loads alembic and the project, says so, then waits for the go: the upgrades start at the same moment
REPLICA = replica_program("{{ cookiecutter.package_name }}.settings")


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
        replicas = await released_replicas(REPLICA, empty_database_url)
        waiting = 0
        for _ in range(PILE_UP_SECONDS * 10):
            waiting = await waiting_for_locks(database)
            if waiting >= len(replicas) or any(process.returncode is not None for process in replicas):
                break
            await asyncio.sleep(0.1)
        await hold.rollback()
    finally:
        await holder.close()
    results = await finished(replicas)
    assert waiting == len(replicas), f"{waiting} of {len(replicas)} replicas reached the locks: {results}"

    connection = await connect(empty_database_url)
    try:
        versions = await connection.fetch("SELECT version_num FROM alembic_version")
    finally:
        await connection.close()
    check_migrations_ran_once(results, versions)
