"""Creating a conversation (a DIRECT pair only once)."""

from __future__ import annotations

import uuid

from sqlalchemy import and_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from parley.accounts import service as accounts
from parley.accounts.schemas import UserOut
from parley.conversations.access import membership_keys
from parley.conversations.events import PARTICIPANT_ADDED
from parley.conversations.models import Conversation, Participant
from parley.conversations.permissions import (
    ConversationStatus,
    ConversationType,
    ParticipantStatus,
    Role,
    creator_role,
    sees_conversation,
)
from parley.conversations.render import conversation_out, participant_out
from parley.conversations.schemas import (
    ConversationCreate,
    ConversationOut,
    ConversationSettings,
    ParticipantEvent,
)
from parley.core.audit import AuditAction, record
from parley.core.cache import invalidate_after_commit
from parley.core.db import utcnow
from parley.core.errors import Conflict, InvalidParticipants, PermissionDenied, ValidationFailed
from parley.core.events import emit_after_commit, user_room


def _direct_key(first: uuid.UUID, second: uuid.UUID) -> str:
    low, high = sorted((str(first), str(second)))
    return f"{low}:{high}"


async def create_conversation(
    session: AsyncSession, *, creator_id: uuid.UUID, data: ConversationCreate
) -> tuple[ConversationOut, bool]:
    """Create a conversation with its creator as owner; a DIRECT pair is created only once.

    Returns the conversation and whether it was created (False: the existing DIRECT one).
    """
    others = list(dict.fromkeys(uid for uid in data.participant_ids if uid != creator_id))
    if data.type == ConversationType.DIRECT and len(others) != 1:
        raise InvalidParticipants("A DIRECT conversation has exactly one other participant")
    if data.type in (ConversationType.SPACE, ConversationType.COMMUNITY) and not data.name:
        raise ValidationFailed(f"A {data.type} needs a name", field="name")
    found = await accounts.get_users_by_ids(session, user_ids=others)
    missing = sorted(set(map(str, others)) - {str(user.id) for user in found})
    if missing:
        raise InvalidParticipants("Some participants do not exist", unknownUserIds=missing)

    if data.type == ConversationType.DIRECT:
        existing = await _existing_direct(session, creator_id=creator_id, other_id=others[0])
        if existing is not None:
            return existing, False

    now = utcnow()
    settings = (data.settings or ConversationSettings()).model_dump(by_alias=True)
    conversation = Conversation(
        id=uuid.uuid4(),
        type=data.type,
        name=data.name,
        description=data.description,
        status=ConversationStatus.ACTIVE,
        settings=settings,
        rate_limit=data.rate_limit,
        created_by=creator_id,
        direct_key=_direct_key(creator_id, others[0])
        if data.type == ConversationType.DIRECT
        else None,
        last_seq=0,
        message_count=0,
        last_activity_at=now,
        created_at=now,
        updated_at=now,
    )
    members = [(creator_id, creator_role(data.type))] + [(uid, Role.MEMBER) for uid in others]
    participants = [
        Participant(
            id=uuid.uuid4(),
            conversation_id=conversation.id,
            user_id=uid,
            role=role,
            status=ParticipantStatus.ACTIVE,
            permissions={},
            joined_at=now,
            updated_at=now,
        )
        for uid, role in members
    ]
    try:
        async with session.begin_nested():
            session.add(conversation)
            await session.flush()
            session.add_all(participants)
            await session.flush()
    except IntegrityError:
        # Another request created the same DIRECT pair first: answer with that one.
        if data.type != ConversationType.DIRECT:
            raise
        existing = await _existing_direct(session, creator_id=creator_id, other_id=others[0])
        if existing is None:
            raise Conflict("The conversation could not be created: try again") from None
        return existing, False

    record(
        session,
        actor_id=creator_id,
        action=AuditAction.CONVERSATION_CREATED,
        conversation_id=conversation.id,
        details={"type": str(data.type)},
    )
    for participant in participants:
        record(
            session,
            actor_id=creator_id,
            action=AuditAction.PARTICIPANT_ADDED,
            conversation_id=conversation.id,
            target_user_id=participant.user_id,
            details={"role": participant.role},
        )
    invalidate_after_commit(
        session, *(key for uid, _ in members for key in membership_keys(conversation.id, uid))
    )
    by_user = {user.id: UserOut.model_validate(user) for user in found}
    for participant in participants:
        emit_after_commit(
            session,
            PARTICIPANT_ADDED,
            ParticipantEvent(
                conversation_id=conversation.id,
                participant=participant_out(
                    participant,
                    conversation,
                    viewer=participant,
                    user=by_user.get(participant.user_id),
                ),
            ),
            rooms=[user_room(participant.user_id)],
        )
    creator = next(p for p in participants if p.user_id == creator_id)
    return conversation_out(conversation, creator), True


async def _existing_direct(
    session: AsyncSession, *, creator_id: uuid.UUID, other_id: uuid.UUID
) -> ConversationOut | None:
    row = (
        await session.execute(
            select(Conversation, Participant)
            .join(
                Participant,
                and_(
                    Participant.conversation_id == Conversation.id,
                    Participant.user_id == creator_id,
                ),
            )
            .where(Conversation.direct_key == _direct_key(creator_id, other_id))
        )
    ).first()
    if row is None:
        return None
    conversation, participant = row
    if participant.status == ParticipantStatus.LEFT:
        # Starting the chat again brings back the one who left it.
        participant.status = ParticipantStatus.ACTIVE
        participant.updated_at = utcnow()
        record(
            session,
            actor_id=creator_id,
            action=AuditAction.PARTICIPANT_REJOINED,
            conversation_id=conversation.id,
            target_user_id=creator_id,
        )
        invalidate_after_commit(session, *membership_keys(conversation.id, creator_id))
    elif not sees_conversation(participant.status):
        raise PermissionDenied("You can no longer write to this person here")
    return conversation_out(conversation, participant)
