"""Removing a member, or leaving."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.conversations.access import load_participant, load_visible, membership_keys
from parley.conversations.actions._shared import announce
from parley.conversations.events import PARTICIPANT_REMOVED
from parley.conversations.models import Participant
from parley.conversations.permissions import (
    Action,
    ParticipantStatus,
    Role,
    has_roles,
    must_hand_over_before_leaving,
    require_over,
    sees_conversation,
    visible_statuses,
)
from parley.conversations.render import participant_out
from parley.conversations.schemas import ParticipantOut
from parley.core.audit import AuditAction, record
from parley.core.cache import invalidate_after_commit
from parley.core.db import utcnow
from parley.core.errors import OwnerMustTransfer, ParticipantNotFound, PermissionDenied


async def remove_participant(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID,
    conversation_id: uuid.UUID,
    target_user_id: uuid.UUID,
) -> ParticipantOut:
    """Remove a member (REMOVE_PARTICIPANT over lower roles), or leave when the target is
    oneself (the owner only once nobody else is left)."""
    conversation, actor = await load_visible(
        session, conversation_id=conversation_id, user_id=actor_id
    )
    action: AuditAction
    if target_user_id == actor_id:
        if must_hand_over_before_leaving(Role(actor.role)) and await _others_remain(
            session, conversation_id=conversation_id, user_id=actor_id
        ):
            raise OwnerMustTransfer()
        target, new_status, action = actor, ParticipantStatus.LEFT, AuditAction.PARTICIPANT_LEFT
    else:
        if not has_roles(conversation.type):
            raise PermissionDenied("Nobody can be removed from a DIRECT conversation")
        target = await load_participant(
            session, conversation_id=conversation_id, user_id=target_user_id
        )
        if not sees_conversation(target.status):
            raise ParticipantNotFound(userId=str(target_user_id))
        require_over(Role(actor.role), Role(target.role), Action.REMOVE_PARTICIPANT)
        new_status, action = ParticipantStatus.REMOVED, AuditAction.PARTICIPANT_REMOVED
    target.status = new_status
    target.updated_at = utcnow()
    record(
        session,
        actor_id=actor_id,
        action=action,
        conversation_id=conversation_id,
        target_user_id=target.user_id,
    )
    await session.flush()
    invalidate_after_commit(session, *membership_keys(conversation_id, target.user_id))
    announce(session, PARTICIPANT_REMOVED, conversation, target)
    return participant_out(target, conversation, viewer=actor)


async def _others_remain(
    session: AsyncSession, *, conversation_id: uuid.UUID, user_id: uuid.UUID
) -> bool:
    other = await session.scalar(
        select(Participant.id)
        .where(
            Participant.conversation_id == conversation_id,
            Participant.user_id != user_id,
            Participant.status.in_(visible_statuses()),
        )
        .limit(1)
    )
    return other is not None
