"""The audit trail: its table (`audit_log`) and its one writer.

Like logging, the trail belongs to no domain: every action records its entry here, in its own
transaction, so an entry exists exactly when the change does. Reading it (with the rule of who
may) is the `audit` domain's job (`parley/audit/`).

Append-only: `record` inserts, and the one other writer is `pseudonymize_actor` (GDPR erasure),
which rewrites only `details`. Migration 0014 makes the database hold to that too: triggers
refuse DELETE on `audit_log` and any UPDATE that changes a column other than `details`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, String, Uuid, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from parley.core.db import Base, JSONType, UTCDateTime, new_id, utcnow


class AuditAction(StrEnum):
    """What an entry records; public (clients filter on it), so add, never rename."""

    CONVERSATION_CREATED = "conversation.created"
    CONVERSATION_UPDATED = "conversation.updated"
    PARTICIPANT_ADDED = "participant.added"
    PARTICIPANT_REJOINED = "participant.rejoined"
    PARTICIPANT_LEFT = "participant.left"
    PARTICIPANT_REMOVED = "participant.removed"
    PARTICIPANT_ROLE_CHANGED = "participant.role_changed"
    PARTICIPANT_STATUS_CHANGED = "participant.status_changed"
    PARTICIPANT_PERMISSIONS_CHANGED = "participant.permissions_changed"
    MESSAGE_DELETED = "message.deleted"
    MODERATION_APPROVED = "moderation.approved"
    MODERATION_REJECTED = "moderation.rejected"
    MESSAGE_REPORTED = "message.reported"
    SESSION_LOGGED_OUT = "session.logged_out"
    SESSION_REFRESHED = "session.refreshed"
    SESSIONS_REVOKED = "session.logged_out_everywhere"
    PASSWORD_CHANGED = "account.password_changed"
    ACCOUNT_REGISTERED = "account.registered"
    LOGIN_SUCCEEDED = "session.logged_in"
    LOGIN_FAILED = "session.login_failed"
    RETENTION_APPLIED = "retention.applied"
    FILE_KEYS_ROTATED = "attachments.keys_rotated"
    KEYS_ROTATED = "keys.rotated"
    ACCOUNT_ERASED = "account.erased"
    EXPORT_STREAMED = "export.streamed"
    EXPORT_STARTED = "export.started"
    EXPORT_DOWNLOADED = "export.downloaded"
    OWNERSHIP_PASSED = "conversation.ownership_passed"


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    # No foreign keys: the trail outlives what it describes.
    actor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    action: Mapped[str] = mapped_column(String(64))
    conversation_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    target_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    message_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_audit_conversation_created", "conversation_id", "created_at"),
        Index("ix_audit_actor_created", "actor_id", "created_at"),
        # GET /audit without a conversation: entries about the caller (migration 0014).
        Index("ix_audit_target_created", "target_user_id", "created_at"),
        # `parley audit export --since`: the whole trail in time order (migration 0014).
        Index("ix_audit_created", "created_at", "id"),
    )


def record(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID | None,
    action: AuditAction,
    conversation_id: uuid.UUID | None = None,
    target_user_id: uuid.UUID | None = None,
    message_id: uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Add an entry in the caller's transaction: it exists exactly when the change does."""
    session.add(
        AuditEntry(
            actor_id=actor_id,
            action=str(action),
            conversation_id=conversation_id,
            target_user_id=target_user_id,
            message_id=message_id,
            details=details or {},
        )
    )


# Keys of `details` that name or locate a person; erasure removes them (pseudonymize_actor).
PERSONAL_DETAIL_KEYS = frozenset(
    {
        "ip",
        "ipAddress",
        "clientAddress",
        "address",
        "username",
        "email",
        "displayName",
        "name",
        "userAgent",
    }
)
_PSEUDONYMIZE_BATCH = 500


def without_personal_data(value: Any) -> Any:
    """`value` with every PERSONAL_DETAIL_KEYS key removed, at any depth."""
    if isinstance(value, dict):
        return {
            key: without_personal_data(item)
            for key, item in value.items()
            if key not in PERSONAL_DETAIL_KEYS
        }
    if isinstance(value, list):
        return [without_personal_data(item) for item in value]
    return value


async def pseudonymize_actor(session: AsyncSession, *, user_id: uuid.UUID) -> int:
    """Strip personal data (addresses, usernames, emails) from the `details` of every entry
    by or about the user, keeping the entries (and the user's id, which after erasure names
    no one); the number of entries changed. The only update the trail allows."""
    changed = 0
    after: uuid.UUID | None = None
    while True:
        statement = (
            select(AuditEntry.id, AuditEntry.details)
            .where(or_(AuditEntry.actor_id == user_id, AuditEntry.target_user_id == user_id))
            .order_by(AuditEntry.id)
            .limit(_PSEUDONYMIZE_BATCH)
        )
        if after is not None:
            statement = statement.where(AuditEntry.id > after)
        rows = (await session.execute(statement)).all()
        for entry_id, details in rows:
            cleaned = without_personal_data(details or {})
            if cleaned != (details or {}):
                await session.execute(
                    update(AuditEntry)
                    .where(AuditEntry.id == entry_id)
                    .values(details=cleaned)
                    .execution_options(synchronize_session=False)
                )
                changed += 1
        if len(rows) < _PSEUDONYMIZE_BATCH:
            return changed
        after = rows[-1][0]
