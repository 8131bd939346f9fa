"""conversation analytics: per-day message counters and senders, filled from the messages

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _day_expression() -> str:
    """The UTC day of `server_timestamp`: SQLite stores naive UTC text, `Date` as its first
    ten characters; PostgreSQL a timestamptz."""
    if op.get_bind().dialect.name == "postgresql":
        return "CAST(server_timestamp AT TIME ZONE 'UTC' AS date)"
    return "substr(server_timestamp, 1, 10)"


def upgrade() -> None:
    op.create_table(
        "conversation_daily_stats",
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("conversation_id", "day"),
    )
    op.create_table(
        "conversation_daily_senders",
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("conversation_id", "day", "user_id"),
    )
    # Top hashtags of a period: one range of this index per conversation.
    op.create_index(
        "ix_hashtags_conversation_created",
        "hashtags",
        ["conversation_id", "created_at", "tag"],
        unique=False,
    )
    day = _day_expression()
    # Backfill: the same aggregate the committer keeps per batch, over every message so far.
    op.execute(
        "INSERT INTO conversation_daily_stats "
        "(conversation_id, day, messages, first_seq, last_seq) "
        f"SELECT conversation_id, {day}, count(*), min(seq), max(seq) FROM messages "
        f"GROUP BY conversation_id, {day}"
    )
    op.execute(
        "INSERT INTO conversation_daily_senders (conversation_id, day, user_id) "
        f"SELECT DISTINCT conversation_id, {day}, sender_id FROM messages "
        "WHERE sender_id IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_index("ix_hashtags_conversation_created", table_name="hashtags")
    op.drop_table("conversation_daily_senders")
    op.drop_table("conversation_daily_stats")
