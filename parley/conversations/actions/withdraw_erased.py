"""An erased user leaves every conversation; what they owned passes to someone else."""

from __future__ import annotations

import uuid

from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.conversations.access import conversation_key, membership_keys
from parley.conversations.actions._shared import announce
from parley.conversations.events import PARTICIPANT_REMOVED, PARTICIPANT_UPDATED
from parley.conversations.models import (
    Conversation,
    Participant,
    default_notification_settings,
)
from parley.conversations.permissions import (
    ConversationStatus,
    ConversationType,
    ParticipantStatus,
    Role,
)
from parley.core.audit import AuditAction, record
from parley.core.cache import invalidate_after_commit
from parley.core.db import utcnow


async def withdraw_erased_user(session: AsyncSession, *, user_id: uuid.UUID) -> None:
    """Take the user out of every conversation (status LEFT, role MEMBER, their flags and
    notification settings reset). Each conversation they owned passes to its first admin,
    else its longest-standing active member (audited as `conversation.ownership_passed`);
    one with nobody left is archived."""
    rows = (
        await session.execute(
            select(Participant, Conversation)
            .join(Conversation, Conversation.id == Participant.conversation_id)
            .where(Participant.user_id == user_id)
        )
    ).all()
    now = utcnow()
    for participant, conversation in rows:
        if participant.role == Role.OWNER and conversation.type != ConversationType.DIRECT:
            await _pass_ownership(session, conversation, user_id=user_id)
        participant.role = Role.MEMBER
        participant.status = ParticipantStatus.LEFT
        participant.permissions = {}
        participant.notification_settings = default_notification_settings()
        participant.updated_at = now
        invalidate_after_commit(session, *membership_keys(conversation.id, user_id))
        announce(session, PARTICIPANT_REMOVED, conversation, participant)
    await session.flush()


async def _pass_ownership(
    session: AsyncSession, conversation: Conversation, *, user_id: uuid.UUID
) -> None:
    successor = await session.scalar(
        select(Participant)
        .where(
            Participant.conversation_id == conversation.id,
            Participant.user_id != user_id,
            Participant.status == ParticipantStatus.ACTIVE,
        )
        .order_by(
            case((Participant.role == Role.ADMIN, 0), else_=1),
            Participant.joined_at,
            Participant.id,
        )
        .limit(1)
    )
    if successor is None:
        conversation.status = ConversationStatus.ARCHIVED
        conversation.updated_at = utcnow()
        invalidate_after_commit(session, conversation_key(conversation.id))
        record(
            session,
            actor_id=None,
            action=AuditAction.CONVERSATION_UPDATED,
            conversation_id=conversation.id,
            details={"status": str(ConversationStatus.ARCHIVED), "reason": "ownerErased"},
        )
        return
    record(
        session,
        actor_id=None,
        action=AuditAction.OWNERSHIP_PASSED,
        conversation_id=conversation.id,
        target_user_id=successor.user_id,
        details={"from": str(successor.role), "to": str(Role.OWNER), "reason": "ownerErased"},
    )
    successor.role = Role.OWNER
    successor.updated_at = utcnow()
    invalidate_after_commit(session, *membership_keys(conversation.id, successor.user_id))
    announce(session, PARTICIPANT_UPDATED, conversation, successor)
