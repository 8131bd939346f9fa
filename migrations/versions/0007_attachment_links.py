"""attachments: image dimensions, the links from messages that carry them (downloads), and
an index for the orphan sweep

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("attachments") as batch:
        batch.add_column(sa.Column("width", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("height", sa.Integer(), nullable=True))
    op.create_index("ix_attachments_created", "attachments", ["created_at"], unique=False)
    op.create_table(
        "attachment_links",
        sa.Column("attachment_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["attachment_id"], ["attachments.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("attachment_id", "message_id"),
    )
    op.create_index(
        "ix_attachment_links_attachment_conversation",
        "attachment_links",
        ["attachment_id", "conversation_id"],
        unique=False,
    )
    op.create_index("ix_attachment_links_message", "attachment_links", ["message_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_attachment_links_message", table_name="attachment_links")
    op.drop_index("ix_attachment_links_attachment_conversation", table_name="attachment_links")
    op.drop_table("attachment_links")
    op.drop_index("ix_attachments_created", table_name="attachments")
    with op.batch_alter_table("attachments") as batch:
        batch.drop_column("height")
        batch.drop_column("width")
