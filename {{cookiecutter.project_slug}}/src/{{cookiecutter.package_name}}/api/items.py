from fastapi import APIRouter
from sqlalchemy import text

from {{ cookiecutter.package_name }}.db import SessionDep
from {{ cookiecutter.package_name }}.schemas import ItemNumber

router = APIRouter(prefix="/items", tags=["items"])

SELECT_ONE = text("SELECT 1 AS number")


@router.get("")
async def read_items(session: SessionDep) -> ItemNumber:
    """Runs SELECT 1 through a pooled session: the smallest proof that the pool works."""
    number = (await session.execute(SELECT_ONE)).scalar_one()
    return ItemNumber(number=number)
