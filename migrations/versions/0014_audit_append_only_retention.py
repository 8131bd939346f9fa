"""audit_log append-only (triggers) and its indexes for reading by target and by time;
job_leases for cluster-wide jobs (retention)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03

Append-only: the database refuses DELETE on audit_log and any UPDATE that changes a column
other than `details` (which GDPR erasure rewrites to take personal data out:
parley.core.audit.pseudonymize_actor). On PostgreSQL a PL/pgSQL trigger function (and
TRUNCATE is refused too); on SQLite two triggers that RAISE(ABORT).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from parley.core.db import UTCDateTime

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FIXED_COLUMNS = (
    "id",
    "actor_id",
    "action",
    "conversation_id",
    "target_user_id",
    "message_id",
    "created_at",
)


def _postgresql_upgrade() -> None:
    changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in _FIXED_COLUMNS)
    op.execute(
        "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN "
        "IF TG_OP = 'UPDATE' THEN "
        f"IF {changed} THEN "
        "RAISE EXCEPTION 'audit_log is append-only: only details may be rewritten' "
        "USING ERRCODE = 'insufficient_privilege'; END IF; "
        "RETURN NEW; END IF; "
        "RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP "
        "USING ERRCODE = 'insufficient_privilege'; "
        "END $$"
    )
    op.execute(
        "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
    )


def _sqlite_upgrade() -> None:
    columns = ", ".join(_FIXED_COLUMNS)
    op.execute(
        f"CREATE TRIGGER audit_log_no_update BEFORE UPDATE OF {columns} ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: only details may be rewritten'); "
        "END"
    )
    op.execute(
        "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END"
    )


def upgrade() -> None:
    op.create_table(
        "job_leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_index("ix_audit_target_created", "audit_log", ["target_user_id", "created_at"])
    op.create_index("ix_audit_created", "audit_log", ["created_at", "id"])
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_upgrade()
    else:
        _sqlite_upgrade()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for trigger in ("audit_log_no_update", "audit_log_no_delete", "audit_log_no_truncate"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    else:
        for trigger in ("audit_log_no_update", "audit_log_no_delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.drop_index("ix_audit_created", table_name="audit_log")
    op.drop_index("ix_audit_target_created", table_name="audit_log")
    op.drop_table("job_leases")
