"""member reports in the review queue

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("moderation_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reporter_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("report_note", sa.Text(), nullable=True))
        batch_op.create_foreign_key(
            "fk_moderation_items_reporter_id_users",
            "users",
            ["reporter_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index(
            "ux_moderation_items_message_reporter", ["message_id", "reporter_id"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("moderation_items", schema=None) as batch_op:
        batch_op.drop_index("ux_moderation_items_message_reporter")
        batch_op.drop_constraint("fk_moderation_items_reporter_id_users", type_="foreignkey")
        batch_op.drop_column("report_note")
        batch_op.drop_column("reporter_id")
