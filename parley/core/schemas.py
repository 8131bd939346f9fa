"""Shared pydantic pieces: camelCase models, `Z` timestamps and cursor pages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, PlainSerializer, model_validator
from pydantic.alias_generators import to_camel


def _iso_z(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


Timestamp = Annotated[datetime, PlainSerializer(_iso_z, return_type=str, when_used="json")]


class ApiModel(BaseModel):
    """Output model: camelCase JSON, built from ORM objects or dicts."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


def contains_nul(value: Any) -> bool:
    """NUL cannot be stored in PostgreSQL text; it is refused at the edge as bad input."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(key) or contains_nul(item) for key, item in value.items())
    if isinstance(value, list | tuple | set):
        return any(contains_nul(item) for item in value)
    if isinstance(value, BaseModel):
        return any(contains_nul(getattr(value, name)) for name in type(value).model_fields)
    return False


class InputModel(BaseModel):
    """Request body: camelCase JSON, unknown fields refused so typos do not pass silently."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", str_strip_whitespace=False
    )

    @model_validator(mode="after")
    def _no_nul_characters(self) -> InputModel:
        for name in type(self).model_fields:
            if contains_nul(getattr(self, name)):
                raise ValueError(f"{to_camel(name)} must not contain NUL characters")
        return self


ItemT = TypeVar("ItemT")


class Page(ApiModel, Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None = None
