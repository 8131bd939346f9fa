"""hashtags by conversation and tag: autocomplete (`GET /hashtags?prefix=`) over the
conversations a user reads

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # text_pattern_ops: PostgreSQL serves `tag LIKE 'pre%'` from the index whatever the
    # database's collation (as for ix_users_username_prefix); SQLite ignores the option.
    op.create_index(
        "ix_hashtags_conversation_tag",
        "hashtags",
        ["conversation_id", "tag"],
        unique=False,
        postgresql_ops={"tag": "text_pattern_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_hashtags_conversation_tag", table_name="hashtags")
