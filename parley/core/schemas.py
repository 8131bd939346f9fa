"""Shared pydantic pieces: camelCase models, `Z` timestamps and cursor pages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    model_validator,
)
from pydantic.alias_generators import to_camel

from parley.core.errors import ErrorCode


def iso_z(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


Timestamp = Annotated[datetime, PlainSerializer(iso_z, return_type=str, when_used="json")]

# Timestamps a client sends are stored and shown in UTC: outside these bounds (or with an
# offset that pushes them past year 1 or 9999, e.g. `9999-12-31T23:59:59-23:59`) they cannot
# be converted or stored, so they are refused at the edge.
EARLIEST_TIMESTAMP = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_TIMESTAMP = datetime(2100, 1, 1, tzinfo=UTC)


def _within_range(value: datetime) -> datetime:
    try:
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST_TIMESTAMP <= utc < LATEST_TIMESTAMP:
        raise ValueError("must be between 1970-01-01T00:00:00Z and 2100-01-01T00:00:00Z")
    return utc


def _iso_8601(value: Any) -> Any:
    # pydantic would read a number (or a numeric string, as every query parameter is) as
    # seconds since 1970: the contract's timestamps are ISO 8601 only.
    if isinstance(value, int | float) or (
        isinstance(value, str) and value.strip().lstrip("+-").replace(".", "", 1).isdigit()
    ):
        raise ValueError("must be an ISO 8601 timestamp, e.g. 2026-12-04T12:00:00Z")
    return value


# A timestamp from a client: ISO 8601, within [1970, 2100) once converted to UTC (naive means
# UTC).
ClientTimestamp = Annotated[
    datetime,
    BeforeValidator(_iso_8601),
    AfterValidator(_within_range),
    PlainSerializer(iso_z, return_type=str, when_used="json"),
]


class ApiModel(BaseModel):
    """Output model: camelCase JSON, built from ORM objects or dicts."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


def _unstorable_text(text: str) -> bool:
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate such as "\ud800" from JSON
        return True
    return False


def contains_unstorable(value: Any) -> bool:
    """NUL and lone surrogates cannot be stored (nor encoded as UTF-8): refused at the edge."""
    if isinstance(value, str):
        return _unstorable_text(value)
    if isinstance(value, dict):
        return any(
            contains_unstorable(key) or contains_unstorable(item) for key, item in value.items()
        )
    if isinstance(value, list | tuple | set):
        return any(contains_unstorable(item) for item in value)
    if isinstance(value, BaseModel):
        return any(contains_unstorable(getattr(value, name)) for name in type(value).model_fields)
    return False


class InputModel(BaseModel):
    """Request body: camelCase JSON, unknown fields refused so typos do not pass silently."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", str_strip_whitespace=False
    )

    @model_validator(mode="after")
    def _only_storable_text(self) -> InputModel:
        for name in type(self).model_fields:
            if contains_unstorable(getattr(self, name)):
                raise ValueError(
                    f"{to_camel(name)} must not contain NUL characters or lone surrogates"
                )
        return self


ItemT = TypeVar("ItemT")


class Page(ApiModel, Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None = None


class ErrorInfo(BaseModel):
    code: ErrorCode = Field(description="Public, never renamed: tell errors apart by it")
    message: str = Field(description="A sentence for people; may change, do not parse it")
    details: dict[str, Any] = Field(
        description="Named data of this error (e.g. `errors` for VALIDATION_ERROR, `scope` "
        "and `retryAfterSeconds` for RATE_LIMITED); `{}` when it has none"
    )


class ErrorOut(BaseModel):
    """Every error's body (docs/api.md, Errors): `{"error": {code, message, details}}`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": "CONVERSATION_NOT_FOUND",
                        "message": "Conversation not found",
                        "details": {},
                    }
                }
            ]
        }
    )

    error: ErrorInfo


def error_responses(described: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for a route's error statuses: status -> the codes it may carry."""
    return {status: {"model": ErrorOut, "description": text} for status, text in described.items()}
