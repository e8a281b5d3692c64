import asyncio

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.migrate import downgrade, upgrade


async def table_names(database_url: str) -> set[str]:
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


async def test_upgrade_creates_the_schema_and_downgrade_removes_it(empty_database_url: str) -> None:
    await asyncio.to_thread(upgrade, empty_database_url)
    assert {"notes", "alembic_version"} <= await table_names(empty_database_url)
    await asyncio.to_thread(downgrade, empty_database_url)
    assert "notes" not in await table_names(empty_database_url)
