"""Overriding a member's permission flags (canSendMessages, canReact, ...)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from parley.conversations.actions._shared import finish_change, load_for_role_change
from parley.conversations.permissions import (
    PERMISSION_FLAGS,
    Action,
    Role,
    may_act_on,
    may_change_role_of,
)
from parley.conversations.schemas import ParticipantOut
from parley.core.audit import AuditAction, record
from parley.core.errors import Conflict, PermissionDenied, ValidationFailed


async def set_flags(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID,
    conversation_id: uuid.UUID,
    target_user_id: uuid.UUID,
    flags: dict[str, bool | None],
) -> ParticipantOut:
    """EDIT_PERMISSIONS over a lower member who sees the conversation: set overrides; `None`
    restores the role's default."""
    conversation, actor, target = await load_for_role_change(
        session, conversation_id=conversation_id, actor_id=actor_id, target_user_id=target_user_id
    )
    unknown = sorted(set(flags) - set(PERMISSION_FLAGS))
    if unknown:
        raise ValidationFailed(
            "Unknown permission flags", unknownFlags=unknown, knownFlags=sorted(PERMISSION_FLAGS)
        )
    if not may_act_on(Role(actor.role), Role(target.role), Action.EDIT_PERMISSIONS):
        raise PermissionDenied(
            "Only admins may change the flags of lower roles", action=str(Action.EDIT_PERMISSIONS)
        )
    if not may_change_role_of(target.status):
        raise Conflict(
            "Flags change only for current members: add them again first",
            targetStatus=str(target.status),
        )
    overrides = dict(target.permissions or {})
    for flag, value in flags.items():
        if value is None:
            overrides.pop(flag, None)
        else:
            overrides[flag] = value
    record(
        session,
        actor_id=actor_id,
        action=AuditAction.PARTICIPANT_PERMISSIONS_CHANGED,
        conversation_id=conversation_id,
        target_user_id=target.user_id,
        details={"permissions": flags},
    )
    target.permissions = overrides
    return await finish_change(session, conversation, target, viewer=actor)
