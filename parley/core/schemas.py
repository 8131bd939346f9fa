"""Shared pydantic pieces: camelCase models, `Z` timestamps and cursor pages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, PlainSerializer
from pydantic.alias_generators import to_camel


def _iso_z(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


Timestamp = Annotated[datetime, PlainSerializer(_iso_z, return_type=str, when_used="json")]


class ApiModel(BaseModel):
    """Output model: camelCase JSON, built from ORM objects or dicts."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


class InputModel(BaseModel):
    """Request body: camelCase JSON, unknown fields refused so typos do not pass silently."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", str_strip_whitespace=False
    )


ItemT = TypeVar("ItemT")


class Page(ApiModel, Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None = None
