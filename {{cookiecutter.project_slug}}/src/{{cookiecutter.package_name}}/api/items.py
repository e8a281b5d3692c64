from fastapi import FastAPI
from sqlalchemy import text

from {{ cookiecutter.package_name }}.db import SessionDep
from {{ cookiecutter.package_name }}.schemas import ItemNumber

SELECT_ONE = text("SELECT 1 AS number")


async def read_items(session: SessionDep) -> ItemNumber:
    """Runs SELECT 1 through a pooled session: the smallest proof that the pool works."""
    number = (await session.execute(SELECT_ONE)).scalar_one()
    return ItemNumber(number=number)


def add_routes(app: FastAPI) -> None:
    app.add_api_route("/items", read_items, methods=["GET"], tags=["items"])
