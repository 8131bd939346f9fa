"""scheduled_messages: sends held until their time, claimed by the dispatcher

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from parley.core.db import JSONType, UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "scheduled_messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("sender_id", sa.Uuid(), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("type", sa.String(length=16), nullable=True),
        sa.Column("reply_to_id", sa.Uuid(), nullable=True),
        sa.Column("thread_id", sa.Uuid(), nullable=True),
        sa.Column("attachments", JSONType, nullable=False),
        sa.Column("client_message_id", sa.String(length=128), nullable=True),
        sa.Column("encrypted", sa.Boolean(), nullable=False),
        sa.Column("scheduled_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_message_id", sa.Uuid(), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["sender_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_scheduled_messages_status_at", "scheduled_messages", ["status", "scheduled_at"]
    )
    op.create_index(
        "ix_scheduled_messages_sender_at", "scheduled_messages", ["sender_id", "scheduled_at"]
    )
    op.create_index(
        "ux_scheduled_messages_sender_client_id",
        "scheduled_messages",
        ["sender_id", "client_message_id"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("ux_scheduled_messages_sender_client_id", table_name="scheduled_messages")
    op.drop_index("ix_scheduled_messages_sender_at", table_name="scheduled_messages")
    op.drop_index("ix_scheduled_messages_status_at", table_name="scheduled_messages")
    op.drop_table("scheduled_messages")
