"""What the participant actions share: loading who acts on whom, and finishing a change
(timestamp, cache invalidation, telling the room)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from parley.accounts.schemas import UserOut
from parley.conversations.access import load_participant, load_visible, membership_keys
from parley.conversations.events import PARTICIPANT_REMOVED, PARTICIPANT_UPDATED
from parley.conversations.models import Conversation, Participant
from parley.conversations.permissions import has_roles
from parley.conversations.render import participant_out
from parley.conversations.schemas import ParticipantEvent, ParticipantOut
from parley.core.cache import invalidate_after_commit
from parley.core.db import utcnow
from parley.core.errors import PermissionDenied
from parley.core.events import Event, conversation_room, emit_after_commit, user_room


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


async def load_for_role_change(
    session: AsyncSession,
    *,
    conversation_id: uuid.UUID,
    actor_id: uuid.UUID,
    target_user_id: uuid.UUID,
) -> tuple[Conversation, Participant, Participant]:
    """As `load_actor_and_target`, for changes that need roles (never in a DIRECT one)."""
    conversation, actor, target = await load_actor_and_target(
        session, conversation_id=conversation_id, actor_id=actor_id, target_user_id=target_user_id
    )
    if not has_roles(conversation.type):
        raise PermissionDenied("Roles and statuses do not change in a DIRECT conversation")
    return conversation, actor, target


async def finish_change(
    session: AsyncSession,
    conversation: Conversation,
    target: Participant,
    *,
    viewer: Participant,
    removed: bool = False,
    also_changed: Participant | None = None,
) -> ParticipantOut:
    """Stamp and flush the change, drop the changed members' access cache after commit, and
    announce `participant_updated` (or `participant_removed` when the change took them out)
    to the room and to the member's own sockets. Answers the target as `viewer` (the actor)
    may see them."""
    changed = [target] if also_changed is None else [target, also_changed]
    now = utcnow()
    for participant in changed:
        participant.updated_at = now
    await session.flush()
    invalidate_after_commit(
        session, *(key for p in changed for key in membership_keys(conversation.id, p.user_id))
    )
    announce(session, PARTICIPANT_REMOVED if removed else PARTICIPANT_UPDATED, conversation, target)
    return participant_out(target, conversation, viewer=viewer)


def announce(
    session: AsyncSession,
    event: Event[ParticipantEvent],
    conversation: Conversation,
    participant: Participant,
    user: UserOut | None = None,
) -> None:
    """A membership change, after commit: the member's own sockets get their full record, the
    rest of the conversation's room the public view (each socket one copy)."""
    own_room = user_room(participant.user_id)
    for viewer, rooms, except_rooms in (
        (participant, [own_room], None),
        (None, [conversation_room(conversation.id)], [own_room]),
    ):
        emit_after_commit(
            session,
            event,
            ParticipantEvent(
                conversation_id=conversation.id,
                participant=participant_out(participant, conversation, viewer=viewer, user=user),
            ),
            rooms=rooms,
            except_rooms=except_rooms,
        )
