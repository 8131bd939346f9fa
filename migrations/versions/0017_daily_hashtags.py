"""conversation analytics: per-day hashtag counters, filled from the hashtag rows

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _day_expression() -> str:
    """The UTC day of the hashtag row's `created_at`, which the committer and the edit set to
    the message's `server_timestamp` (the day the committer counts): SQLite stores naive UTC
    text, `Date` as its first ten characters."""
    if op.get_bind().dialect.name == "postgresql":
        return "CAST(hashtags.created_at AT TIME ZONE 'UTC' AS date)"
    return "substr(hashtags.created_at, 1, 10)"


def upgrade() -> None:
    op.create_table(
        "conversation_daily_hashtags",
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("tag", sa.String(length=100), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("conversation_id", "day", "tag"),
    )
    day = _day_expression()
    # Backfill: what the committer and the edit keep from now on, over every hashtag row so far.
    op.execute(
        "INSERT INTO conversation_daily_hashtags (conversation_id, day, tag, count) "
        f"SELECT hashtags.conversation_id, {day}, hashtags.tag, count(*) FROM hashtags "
        f"GROUP BY hashtags.conversation_id, {day}, hashtags.tag"
    )


def downgrade() -> None:
    op.drop_table("conversation_daily_hashtags")
