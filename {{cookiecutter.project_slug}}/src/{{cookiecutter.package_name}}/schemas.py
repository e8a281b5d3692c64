"""Request and response bodies."""

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from {{ cookiecutter.package_name }}.models import BODY_MAX, TITLE_MAX


def _storable(value: str) -> str:
    # Databases refuse NUL characters, and lone surrogates cannot be encoded as UTF-8
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


Title = Annotated[str, Field(min_length=1, max_length=TITLE_MAX), AfterValidator(_storable)]
Body = Annotated[str, Field(max_length=BODY_MAX), AfterValidator(_storable)]


class ItemNumber(BaseModel):
    number: int


class NoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    body: Body = ""


class NoteUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    body: Body | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> "NoteUpdate":
        if not self.changes():
            raise ValueError("give at least one of: title, body")
        return self

    def changes(self) -> dict[str, str]:
        """The fields the client set to a value; null means "leave as is"."""
        return {name: value for name, value in self.model_dump(exclude_unset=True).items() if value is not None}


class NoteRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    body: str
    created_at: datetime
    updated_at: datetime


class Readiness(BaseModel):
    status: str
    database: dict[str, object]
