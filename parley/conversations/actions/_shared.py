"""What the participant actions share: loading who acts on whom, and telling the room."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from parley.conversations.access import load_participant, load_visible
from parley.conversations.events import PARTICIPANT_REMOVED, PARTICIPANT_UPDATED
from parley.conversations.models import Conversation, Participant
from parley.conversations.permissions import has_roles
from parley.conversations.schemas import ParticipantEvent, ParticipantOut
from parley.core.errors import PermissionDenied
from parley.core.events import conversation_room, emit_after_commit, user_room


async def load_actor_and_target(
    session: AsyncSession,
    *,
    conversation_id: uuid.UUID,
    actor_id: uuid.UUID,
    target_user_id: uuid.UUID,
) -> tuple[Conversation, Participant, Participant]:
    """The conversation, the acting member (who must see it) and the member acted on (any
    status: a banned member can be unbanned)."""
    conversation, actor = await load_visible(
        session, conversation_id=conversation_id, user_id=actor_id
    )
    if target_user_id == actor_id:
        return conversation, actor, actor
    target = await load_participant(
        session, conversation_id=conversation_id, user_id=target_user_id
    )
    return conversation, actor, target


def require_roles_apply(conversation: Conversation) -> None:
    if not has_roles(conversation.type):
        raise PermissionDenied("Roles and statuses do not change in a DIRECT conversation")


def announce_participant_change(
    session: AsyncSession,
    *,
    conversation_id: uuid.UUID,
    participant: ParticipantOut,
    removed: bool = False,
) -> None:
    """`participant_updated` (or `participant_removed` when the change took them out) to the
    room and to the member's own sockets, after commit."""
    emit_after_commit(
        session,
        PARTICIPANT_REMOVED if removed else PARTICIPANT_UPDATED,
        ParticipantEvent(conversation_id=conversation_id, participant=participant),
        rooms=[conversation_room(conversation_id), user_room(participant.user_id)],
    )
