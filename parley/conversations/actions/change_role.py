"""Changing a member's role, including the owner handing ownership over."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from parley.conversations import permissions
from parley.conversations.actions._shared import finish_change, load_for_role_change
from parley.conversations.models import Participant
from parley.conversations.permissions import (
    Action,
    Role,
    may_change_role_of,
    may_grant,
    may_hand_over_ownership,
    may_receive_ownership,
    require_over,
)
from parley.conversations.schemas import ParticipantOut
from parley.core.audit import AuditAction, record
from parley.core.errors import Conflict, PermissionDenied


async def change_role(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID,
    conversation_id: uuid.UUID,
    target_user_id: uuid.UUID,
    role: Role,
) -> ParticipantOut:
    """CHANGE_ROLE over a lower member who sees the conversation, granting only roles below
    one's own; the owner may hand ownership over, only to an ACTIVE member, and keeps
    FORMER_OWNER_ROLE."""
    conversation, actor, target = await load_for_role_change(
        session, conversation_id=conversation_id, actor_id=actor_id, target_user_id=target_user_id
    )
    actor_role = Role(actor.role)
    # Checked even when the role would not change: a no-op is still an act of authority.
    require_over(actor_role, Role(target.role), Action.CHANGE_ROLE)
    if role == Role.OWNER and not may_hand_over_ownership(actor_role):
        raise PermissionDenied("Only the owner may hand over ownership")
    if role != Role.OWNER and not may_grant(actor_role, role):
        raise PermissionDenied(f"You may not grant the role {role}")
    if not may_change_role_of(target.status):
        raise Conflict(
            "Roles change only for current members: add them again first",
            targetStatus=str(target.status),
        )
    if role == Role.OWNER and not may_receive_ownership(target.status):
        raise Conflict("Ownership goes only to an active member", targetStatus=str(target.status))
    former_owner = None
    if role != target.role:
        if role == Role.OWNER:
            _record(session, actor_id, conversation_id, actor, permissions.FORMER_OWNER_ROLE)
            actor.role = permissions.FORMER_OWNER_ROLE
            former_owner = actor
        _record(session, actor_id, conversation_id, target, role)
        target.role = role
    return await finish_change(
        session, conversation, target, viewer=actor, also_changed=former_owner
    )


def _record(
    session: AsyncSession,
    actor_id: uuid.UUID,
    conversation_id: uuid.UUID,
    participant: Participant,
    new_role: Role,
) -> None:
    record(
        session,
        actor_id=actor_id,
        action=AuditAction.PARTICIPANT_ROLE_CHANGED,
        conversation_id=conversation_id,
        target_user_id=participant.user_id,
        details={"from": participant.role, "to": str(new_role)},
    )
