"""The audit trail: the only writer of `audit_log`."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.audit.models import AuditEntry
from parley.audit.schemas import AuditEntryOut
from parley.core.errors import PermissionDenied, ValidationFailed
from parley.core.pagination import after_time_cursor, encode_time_cursor
from parley.core.schemas import Page


def record(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID | None,
    action: str,
    conversation_id: uuid.UUID | None = None,
    target_user_id: uuid.UUID | None = None,
    message_id: uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Add an entry in the caller's transaction: it exists exactly when the change does."""
    session.add(
        AuditEntry(
            actor_id=actor_id,
            action=action,
            conversation_id=conversation_id,
            target_user_id=target_user_id,
            message_id=message_id,
            details=details or {},
        )
    )


async def list_entries(
    session: AsyncSession,
    *,
    caller_id: uuid.UUID,
    conversation_id: uuid.UUID | None,
    actor_id: uuid.UUID | None,
    limit: int,
    cursor: str | None,
) -> Page[AuditEntryOut]:
    """Newest first. A conversation's trail is for its owner and admins; without one, callers
    see only their own actions."""
    from parley.conversations import service as conversations
    from parley.conversations.permissions import Action

    statement = select(AuditEntry).order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
    if conversation_id is not None:
        membership = await conversations.get_membership(
            session, conversation_id=conversation_id, user_id=caller_id
        )
        if not membership.may(Action.VIEW_AUDIT):
            raise PermissionDenied(
                "Only the owner and admins may read the audit trail", action=str(Action.VIEW_AUDIT)
            )
        statement = statement.where(AuditEntry.conversation_id == conversation_id)
    elif actor_id != caller_id:
        raise ValidationFailed(
            "Give conversationId, or actorId equal to your own id", field="conversationId"
        )
    if actor_id is not None:
        statement = statement.where(AuditEntry.actor_id == actor_id)
    if cursor is not None:
        statement = statement.where(
            after_time_cursor(cursor, AuditEntry.created_at, AuditEntry.id, descending=True)
        )
    entries = list((await session.scalars(statement.limit(limit + 1))).all())
    more = len(entries) > limit
    entries = entries[:limit]
    next_cursor = encode_time_cursor(entries[-1].created_at, entries[-1].id) if more else None
    return Page[AuditEntryOut](
        items=[AuditEntryOut.model_validate(entry) for entry in entries], next_cursor=next_cursor
    )
