from enum import Enum
from typing import Annotated, Any, cast

from fastapi import FastAPI, HTTPException, Path, Query, Response, status
from sqlalchemy import CursorResult, delete, select, update

from {{ cookiecutter.package_name }}.db import ReaderDep, SessionDep
from {{ cookiecutter.package_name }}.models import Note
from {{ cookiecutter.package_name }}.schemas import NoteCreate, NoteRead, NoteUpdate

TAGS: list[str | Enum] = ["notes"]
MAX_ID = 2**31 - 1  # the id column is a 32-bit integer on every database
NoteId = Annotated[int, Path(ge=1, le=MAX_ID)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No note with this id"}}


def _missing(note_id: int) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"note {note_id} not found")


async def create_note(payload: NoteCreate, session: SessionDep) -> NoteRead:
    note = Note(**payload.model_dump())
    session.add(note)
    await session.commit()
    return NoteRead.model_validate(note)


# The reads take the read path (db.py, ReaderDep): one statement each, no transaction, no session
NOTES = Note.__table__


async def list_notes(
    reader: ReaderDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> list[NoteRead]:
    rows = await reader.execute(select(NOTES).order_by(NOTES.c.id).limit(limit).offset(offset))
    return [NoteRead.model_validate(row) for row in rows]


async def get_note(note_id: NoteId, reader: ReaderDep) -> NoteRead:
    row = (await reader.execute(select(NOTES).where(NOTES.c.id == note_id))).first()
    if row is None:
        raise _missing(note_id)
    return NoteRead.model_validate(row)


async def update_note(note_id: NoteId, payload: NoteUpdate, session: SessionDep) -> NoteRead:
    statement = update(Note).where(Note.id == note_id).values(**payload.changes())
    if session.get_bind().dialect.update_returning:
        # one UPDATE ... RETURNING: a short write transaction with no read-then-write race
        note = (await session.scalars(statement.returning(Note))).one_or_none()
    else:
        # MySQL and MariaDB have no UPDATE ... RETURNING: update, then read the row back in the same transaction
        updated = cast(CursorResult[Any], await session.execute(statement))
        note = await session.get(Note, note_id, populate_existing=True) if updated.rowcount else None
    if note is None:
        raise _missing(note_id)
    await session.commit()
    return NoteRead.model_validate(note)


async def delete_note(note_id: NoteId, session: SessionDep) -> Response:
    deleted = cast(CursorResult[Any], await session.execute(delete(Note).where(Note.id == note_id)))
    if not deleted.rowcount:
        raise _missing(note_id)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def add_routes(app: FastAPI) -> None:
    app.add_api_route("/notes", create_note, methods=["POST"], tags=TAGS, status_code=status.HTTP_201_CREATED)
    app.add_api_route("/notes", list_notes, methods=["GET"], tags=TAGS)
    app.add_api_route("/notes/{note_id}", get_note, methods=["GET"], tags=TAGS, responses=NOT_FOUND)
    app.add_api_route("/notes/{note_id}", update_note, methods=["PATCH"], tags=TAGS, responses=NOT_FOUND)
    app.add_api_route(
        "/notes/{note_id}",
        delete_note,
        methods=["DELETE"],
        tags=TAGS,
        status_code=status.HTTP_204_NO_CONTENT,
        responses=NOT_FOUND,
    )
