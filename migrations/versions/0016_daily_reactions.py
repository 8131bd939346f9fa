"""conversation analytics: per-day reaction counters, filled from the reactions

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _day_expression() -> str:
    """The UTC day of the reacted message's `server_timestamp` (as migration 0011 counts the
    message itself): SQLite stores naive UTC text, `Date` as its first ten characters."""
    if op.get_bind().dialect.name == "postgresql":
        return "CAST(messages.server_timestamp AT TIME ZONE 'UTC' AS date)"
    return "substr(messages.server_timestamp, 1, 10)"


def upgrade() -> None:
    op.create_table(
        "conversation_daily_reactions",
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("emoji", sa.String(length=64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("conversation_id", "day", "emoji"),
    )
    day = _day_expression()
    # Backfill: what the reaction actions keep from now on, over every reaction so far.
    op.execute(
        "INSERT INTO conversation_daily_reactions (conversation_id, day, emoji, count) "
        f"SELECT messages.conversation_id, {day}, reactions.emoji, count(*) "
        "FROM reactions JOIN messages ON messages.id = reactions.message_id "
        f"GROUP BY messages.conversation_id, {day}, reactions.emoji"
    )


def downgrade() -> None:
    op.drop_table("conversation_daily_reactions")
