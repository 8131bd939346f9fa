"""Muting, banning or removing a member through their status, and taking it back."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from parley.conversations.actions._shared import finish_change, load_for_role_change
from parley.conversations.permissions import (
    STATUS_TRANSITIONS,
    ParticipantStatus,
    Role,
    may_change_status,
    require_over,
    sees_conversation,
    status_change_action,
)
from parley.conversations.schemas import ParticipantOut
from parley.core.audit import AuditAction, record
from parley.core.errors import Conflict, ValidationFailed


async def set_status(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID,
    conversation_id: uuid.UUID,
    target_user_id: uuid.UUID,
    status: ParticipantStatus,
) -> ParticipantOut:
    """Mute, ban or remove a lower member (or unmute, unban): the status's action from the
    permission table, along its STATUS_TRANSITIONS only (CONFLICT otherwise). Leaving is
    DELETE; a member who left or was removed comes back only by being added again."""
    conversation, actor, target = await load_for_role_change(
        session, conversation_id=conversation_id, actor_id=actor_id, target_user_id=target_user_id
    )
    old_status = ParticipantStatus(target.status)
    if status == ParticipantStatus.LEFT:
        raise ValidationFailed(
            "Leave with DELETE /conversations/{id}/participants/{you}", field="status"
        )
    require_over(Role(actor.role), Role(target.role), status_change_action(old_status, status))
    if not may_change_status(old_status, status):
        raise Conflict(
            "Add the user again with POST /conversations/{id}/participants"
            if not STATUS_TRANSITIONS[old_status]
            else f"A {old_status} member cannot be made {status}",
            **{"from": str(old_status)},
            to=str(status),
            allowed=sorted(str(s) for s in STATUS_TRANSITIONS[old_status]),
        )
    if status != old_status:
        record(
            session,
            actor_id=actor_id,
            action=AuditAction.PARTICIPANT_STATUS_CHANGED,
            conversation_id=conversation_id,
            target_user_id=target.user_id,
            details={"from": str(old_status), "to": str(status)},
        )
        target.status = status
    return await finish_change(
        session, conversation, target, viewer=actor, removed=not sees_conversation(status)
    )
