"""The audit trail: its table (`audit_log`) and its one writer.

Like logging, the trail belongs to no domain: every action records its entry here, in its own
transaction, so an entry exists exactly when the change does. Reading it (with the rule of who
may) is the `audit` domain's job (`parley/audit/`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, String, Uuid, or_, select
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


# Keys of `details` that name or locate a person; an erased user's entries lose them.
PERSONAL_DETAIL_KEYS = frozenset(
    {"ip", "ipAddress", "clientAddress", "address", "username", "email", "displayName", "name"}
)


async def pseudonymize_actor(session: AsyncSession, *, user_id: uuid.UUID) -> int:
    """Strip personal keys from the `details` of every entry by or about the user (erasure):
    the entries stay, under the user's id only, so the trail still says what happened. The
    number of entries changed."""
    entries = (
        await session.scalars(
            select(AuditEntry).where(
                or_(AuditEntry.actor_id == user_id, AuditEntry.target_user_id == user_id)
            )
        )
    ).all()
    changed = 0
    for entry in entries:
        details = entry.details or {}
        kept = {key: value for key, value in details.items() if key not in PERSONAL_DETAIL_KEYS}
        if kept != details:
            entry.details = kept
            changed += 1
    return changed
