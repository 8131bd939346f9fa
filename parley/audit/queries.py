"""Reading the audit trail (every action writes it through `core/audit.py`)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.audit.schemas import AuditEntryOut
from parley.conversations import access
from parley.conversations.permissions import Action, require_role
from parley.core.audit import AuditEntry
from parley.core.errors import ValidationFailed
from parley.core.pagination import after_time_cursor, encode_time_cursor
from parley.core.schemas import Page


async def list_entries(
    session: AsyncSession,
    *,
    caller_id: uuid.UUID,
    conversation_id: uuid.UUID | None,
    actor_id: uuid.UUID | None,
    limit: int,
    cursor: str | None,
) -> Page[AuditEntryOut]:
    """Newest first. A conversation's trail is for VIEW_AUDIT (owner and admins); without
    one, callers see only their own actions."""
    statement = select(AuditEntry).order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
    if conversation_id is not None:
        membership = await access.get_membership(
            session, conversation_id=conversation_id, user_id=caller_id
        )
        require_role(
            membership.role,
            Action.VIEW_AUDIT,
            "Only the owner and admins may read the audit trail",
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
