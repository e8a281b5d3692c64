"""The tests' databases: a copy of the migrated template comes back to the next test empty, its counters restarted,
and a copy whose schema a test changed is dropped rather than lent again."""

from sqlalchemy import func, insert, make_url, select, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from {{ cookiecutter.package_name }}.models import Note

from tests.scratch_server import TemplateCopies


async def write_two_notes(url: str, change_schema: bool = False) -> list[int]:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            result = await connection.execute(insert(Note).returning(Note.id), [{"title": "a"}, {"title": "b"}])
            ids = list(result.scalars())
            if change_schema:
                await connection.execute(text("ALTER TABLE notes ADD COLUMN extra INTEGER"))
        return ids
    finally:
        await engine.dispose()


async def count_notes(url: str) -> int:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return int((await connection.execute(select(func.count()).select_from(Note))).scalar_one())
    finally:
        await engine.dispose()


async def test_a_copy_is_lent_again_empty_with_its_ids_restarted(migrated_copies: TemplateCopies) -> None:
    async with migrated_copies.lend() as first:
        assert await write_two_notes(first) == [1, 2]
    async with migrated_copies.lend() as again:
        assert again == first  # the same database, emptied
        assert await count_notes(again) == 0
        assert await write_two_notes(again) == [1, 2]


async def test_a_copy_whose_schema_changed_is_not_lent_again(migrated_copies: TemplateCopies) -> None:
    async with migrated_copies.lend() as changed:
        await write_two_notes(changed, change_schema=True)
    assert make_url(changed).database not in migrated_copies.free  # dropped, not kept for the next test
    async with migrated_copies.lend() as other:
        assert other != changed
        assert await count_notes(other) == 0
