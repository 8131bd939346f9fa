"""notification settings take their schema

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

`conversation_participants.notification_settings` was a free-form object merged from every
PATCH. It becomes `{level: ALL | MENTIONS | NONE, mutedUntil: timestamp | null, keywords: [at
most 20 words of 1-32 characters]}`: what is stored keeps the valid values of those three keys
and drops everything else. Data only: the column stays JSON. The downgrade keeps the new shape
(it is valid free-form data).
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEVELS = ("ALL", "MENTIONS", "NONE")
MAX_KEYWORDS = 20
MAX_KEYWORD_LENGTH = 32
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)

participants = sa.table(
    "conversation_participants",
    sa.column("id", sa.Uuid()),
    sa.column(
        "notification_settings",
        sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
    ),
)


def _muted_until(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        utc = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    if not EARLIEST <= utc < LATEST:
        return None
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _keywords(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    words = [item.strip() for item in value if isinstance(item, str)]
    words = [word for word in words if 0 < len(word) <= MAX_KEYWORD_LENGTH and "\x00" not in word]
    return words[:MAX_KEYWORDS]


def new_shape(stored: Any) -> dict[str, Any]:
    """What a stored object becomes: the valid values of the three keys, the rest dropped."""
    stored = stored if isinstance(stored, dict) else {}
    level = stored.get("level")
    return {
        "level": level if level in LEVELS else "ALL",
        "mutedUntil": _muted_until(stored.get("mutedUntil")),
        "keywords": _keywords(stored.get("keywords")),
    }


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(participants.c.id, participants.c.notification_settings)
    ).all()
    for participant_id, stored in rows:
        mapped = new_shape(stored)
        if mapped != stored:
            connection.execute(
                participants.update()
                .where(participants.c.id == participant_id)
                .values(notification_settings=mapped)
            )


def downgrade() -> None:
    pass
