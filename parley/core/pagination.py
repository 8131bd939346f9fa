"""Opaque cursors: clients pass them back unchanged and never build them."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_

from parley.core.errors import ValidationFailed


def encode_text_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


MAX_SEQ = 2**62


def decode_text_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValidationFailed("The cursor is not valid", field="cursor") from None
    if "\x00" in text:
        raise ValidationFailed("The cursor is not valid", field="cursor")
    return text


def encode_seq_cursor(seq: int) -> str:
    return str(seq)


def decode_seq_cursor(cursor: str, field: str = "cursor") -> int:
    try:
        value = int(cursor)
    except ValueError:
        raise ValidationFailed(f"{field} is not a valid cursor", field=field) from None
    if not 0 <= value <= MAX_SEQ:
        raise ValidationFailed(f"{field} is not a valid cursor", field=field)
    return value


def encode_time_cursor(at: datetime, row_id: uuid.UUID) -> str:
    """A position in a list ordered by (timestamp, id)."""
    return encode_text_cursor(f"{at.isoformat()}|{row_id}")


def decode_time_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        at_text, id_text = decode_text_cursor(cursor).split("|", 1)
        return datetime.fromisoformat(at_text), uuid.UUID(id_text)
    except ValueError:
        raise ValidationFailed("The cursor is not valid", field="cursor") from None


def after_time_cursor(
    cursor: str, at_column: Any, id_column: Any, *, descending: bool
) -> ColumnElement[bool]:
    """The rows past `cursor` in a list ordered by (timestamp, id), newest first when
    `descending`: the condition every time-paged list shares."""
    at, last_id = decode_time_cursor(cursor)
    if descending:
        return or_(at_column < at, and_(at_column == at, id_column < last_id))
    return or_(at_column > at, and_(at_column == at, id_column > last_id))
