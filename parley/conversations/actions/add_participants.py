"""Adding people to a conversation, or bringing back those who left or were removed."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.accounts import service as accounts
from parley.accounts.schemas import UserOut
from parley.conversations.access import load_visible, membership_keys
from parley.conversations.actions._shared import announce
from parley.conversations.events import PARTICIPANT_ADDED
from parley.conversations.models import Participant
from parley.conversations.permissions import (
    ConversationStatus,
    ParticipantStatus,
    Role,
    effective_permissions,
    has_roles,
    may_grant,
    sees_conversation,
)
from parley.conversations.render import participant_out
from parley.conversations.schemas import ParticipantOut
from parley.core.audit import AuditAction, record
from parley.core.cache import invalidate_after_commit
from parley.core.db import utcnow
from parley.core.errors import Conflict, InvalidParticipants, ParticipantBanned, PermissionDenied


async def add_participants(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID,
    conversation_id: uuid.UUID,
    user_ids: list[uuid.UUID],
    role: Role,
) -> list[ParticipantOut]:
    """Add people (or bring back those who left or were removed); banned people stay out.
    Needs the flag canAddParticipants and a role that may grant `role`."""
    conversation, actor = await load_visible(
        session, conversation_id=conversation_id, user_id=actor_id
    )
    actor_role = Role(actor.role)
    if not has_roles(conversation.type):
        raise InvalidParticipants("A DIRECT conversation always has exactly two participants")
    if (
        actor.status != ParticipantStatus.ACTIVE
        or not effective_permissions(actor_role, actor.permissions or {})["canAddParticipants"]
    ):
        raise PermissionDenied("You may not add participants here", flag="canAddParticipants")
    if not may_grant(actor_role, role):
        raise PermissionDenied(f"You may not grant the role {role}", role=str(role))
    if conversation.status == ConversationStatus.ARCHIVED:
        raise Conflict("The conversation is archived")

    wanted = list(dict.fromkeys(user_ids))
    users = {
        user.id: UserOut.model_validate(user)
        for user in await accounts.get_users_by_ids(session, user_ids=wanted)
    }
    missing = [str(uid) for uid in wanted if uid not in users]
    if missing:
        raise InvalidParticipants("Some users do not exist", unknownUserIds=missing)
    existing = {
        p.user_id: p
        for p in (
            await session.scalars(
                select(Participant).where(
                    Participant.conversation_id == conversation_id,
                    Participant.user_id.in_(wanted),
                )
            )
        ).all()
    }
    banned = [str(uid) for uid, p in existing.items() if p.status == ParticipantStatus.BANNED]
    if banned:
        raise ParticipantBanned(bannedUserIds=banned)

    now = utcnow()
    result: list[ParticipantOut] = []
    for uid in wanted:
        participant = existing.get(uid)
        if participant is not None and sees_conversation(participant.status):
            result.append(participant_out(participant, conversation, viewer=actor, user=users[uid]))
            continue
        if participant is None:
            participant = Participant(
                id=uuid.uuid4(),
                conversation_id=conversation_id,
                user_id=uid,
                permissions={},
                joined_at=now,
            )
            session.add(participant)
        participant.role = role
        participant.status = ParticipantStatus.ACTIVE
        # Joining is not an invitation to read the whole history as unread.
        participant.read_seq = conversation.last_seq
        participant.delivered_seq = conversation.last_seq
        participant.updated_at = now
        record(
            session,
            actor_id=actor_id,
            action=AuditAction.PARTICIPANT_ADDED,
            conversation_id=conversation_id,
            target_user_id=uid,
            details={"role": str(role)},
        )
        result.append(participant_out(participant, conversation, viewer=actor, user=users[uid]))
        invalidate_after_commit(session, *membership_keys(conversation_id, uid))
        announce(session, PARTICIPANT_ADDED, conversation, participant, users[uid])
    await session.flush()
    return result
