"""Membership reads that every domain uses: who belongs to a conversation, in which role.

`get_membership` is the access check of the hot paths (send, typing, pages), and
`active_conversation_ids` the rooms of every socket connect, both served from the cache; the
cache entries are deleted after commit by the actions that change them (`membership_keys`
for a member's row, `conversation_key` for the conversation, `user_conversations_key` of
every member when the conversation's status changes).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.conversations.models import Conversation, Participant
from parley.conversations.permissions import (
    Action,
    ConversationStatus,
    ConversationType,
    Membership,
    ParticipantStatus,
    Role,
    roles_allowed,
    sees_conversation,
    visible_statuses,
)
from parley.conversations.schemas import ConversationSettings
from parley.core import runtime
from parley.core.errors import ConversationNotFound, ParticipantNotFound

DEFAULT_SETTINGS: dict[str, bool | int | None] = ConversationSettings().model_dump(by_alias=True)


def conversation_key(conversation_id: uuid.UUID | str) -> str:
    return f"conversation:{conversation_id}"


def member_key(conversation_id: uuid.UUID | str, user_id: uuid.UUID | str) -> str:
    return f"member:{conversation_id}:{user_id}"


def user_conversations_key(user_id: uuid.UUID | str) -> str:
    return f"user-conversations:{user_id}"


def membership_keys(conversation_id: uuid.UUID | str, user_id: uuid.UUID | str) -> list[str]:
    """What a change to one member's row makes stale: their access here, and their list of
    conversations (which rooms their next socket joins)."""
    return [member_key(conversation_id, user_id), user_conversations_key(user_id)]


async def get_membership(
    session: AsyncSession, *, conversation_id: uuid.UUID, user_id: uuid.UUID
) -> Membership:
    """The caller's membership; CONVERSATION_NOT_FOUND unless they are an active member.

    Served from the cache (two keys, one round trip); the session is used only on a miss.
    """
    membership, _ = await get_membership_and(
        session, conversation_id=conversation_id, user_id=user_id, also=()
    )
    return membership


async def get_membership_and(
    session: AsyncSession,
    *,
    conversation_id: uuid.UUID,
    user_id: uuid.UUID,
    also: Sequence[str],
) -> tuple[Membership, list[Any]]:
    """`get_membership`, with the cache keys `also` read in the same round trip (the send
    path's idempotency key): their values (None where absent) in order."""
    rt = runtime.current()
    keys = conversation_key(conversation_id), member_key(conversation_id, user_id)
    cached_conversation, cached_member, *extra = await rt.cache.get_many([*keys, *also])
    if cached_conversation is None or cached_member is None:
        row = (
            await session.execute(
                select(
                    Conversation.type,
                    Conversation.status,
                    Conversation.rate_limit,
                    Participant.role,
                    Participant.status,
                    Participant.permissions,
                    Conversation.settings,
                )
                .select_from(Conversation)
                .outerjoin(
                    Participant,
                    and_(
                        Participant.conversation_id == Conversation.id,
                        Participant.user_id == user_id,
                    ),
                )
                .where(Conversation.id == conversation_id)
            )
        ).first()
        if row is None:
            raise ConversationNotFound(conversationId=str(conversation_id))
        cached_conversation = {
            "type": row[0],
            "status": row[1],
            "rateLimit": row[2],
            "settings": {**DEFAULT_SETTINGS, **(row[6] or {})},
        }
        cached_member = {"role": row[3], "status": row[4], "permissions": row[5] or {}}
        ttl = rt.settings.cache_ttl_seconds
        await rt.cache.set_many({keys[0]: cached_conversation, keys[1]: cached_member}, ttl)
    if (
        not sees_conversation(cached_member["status"])
        or cached_conversation["status"] == ConversationStatus.DELETED
    ):
        raise ConversationNotFound(conversationId=str(conversation_id))
    settings = cached_conversation.get("settings") or DEFAULT_SETTINGS
    membership = Membership(
        conversation_id=str(conversation_id),
        user_id=str(user_id),
        conversation_type=ConversationType(cached_conversation["type"]),
        conversation_status=ConversationStatus(cached_conversation["status"]),
        rate_limit=cached_conversation["rateLimit"],
        role=Role(cached_member["role"]),
        status=ParticipantStatus(cached_member["status"]),
        permission_overrides=cached_member["permissions"],
        typing_indicators=bool(settings.get("typingIndicators", True)),
        read_receipts=bool(settings.get("readReceipts", True)),
        moderation=bool(settings.get("moderation", True)),
        end_to_end_encryption=bool(settings.get("endToEndEncryption", False)),
    )
    return membership, extra


async def link_previews_enabled(session: AsyncSession, *, conversation_id: uuid.UUID) -> bool:
    """The conversation's `linkPreviews` setting (on unless turned off); from the cached
    conversation entry when there is one (dropped by every settings change)."""
    cached = await runtime.current().cache.get(conversation_key(conversation_id))
    if cached is not None and isinstance(cached.get("settings"), dict):
        return bool(cached["settings"].get("linkPreviews", True))
    settings = await session.scalar(
        select(Conversation.settings).where(Conversation.id == conversation_id)
    )
    return bool({**DEFAULT_SETTINGS, **(settings or {})}.get("linkPreviews", True))


async def active_conversation_ids(session: AsyncSession, *, user_id: uuid.UUID) -> list[uuid.UUID]:
    """The conversations whose events a user's sockets hear (active or muted membership).

    Read on every socket connect, so served from the cache (a reconnect storm would otherwise
    be a query per socket); the session is used only on a miss."""
    rt = runtime.current()
    key = user_conversations_key(user_id)
    cached = await rt.cache.get(key)
    if cached is not None:
        return [uuid.UUID(conversation_id) for conversation_id in cached]
    rows = await session.scalars(
        select(Participant.conversation_id)
        .join(Conversation, Conversation.id == Participant.conversation_id)
        .where(
            Participant.user_id == user_id,
            Participant.status.in_(visible_statuses()),
            Conversation.status != ConversationStatus.DELETED,
        )
    )
    conversation_ids = list(rows.all())
    await rt.cache.set(key, [str(c) for c in conversation_ids], rt.settings.cache_ttl_seconds)
    return conversation_ids


async def member_ids(session: AsyncSession, *, conversation_id: uuid.UUID) -> list[uuid.UUID]:
    """Everyone with a row in the conversation, former members included."""
    rows = await session.scalars(
        select(Participant.user_id).where(Participant.conversation_id == conversation_id)
    )
    return list(rows.all())


def _is_reviewer() -> ColumnElement[bool]:
    """An active member who reviews flagged content (moderator and above)."""
    return and_(
        Participant.status == ParticipantStatus.ACTIVE,
        Participant.role.in_([str(r) for r in roles_allowed(Action.REVIEW_FLAGGED_CONTENT)]),
    )


async def reviewer_ids(session: AsyncSession, *, conversation_id: uuid.UUID) -> list[uuid.UUID]:
    """The members who review flagged content here."""
    rows = await session.scalars(
        select(Participant.user_id).where(
            Participant.conversation_id == conversation_id, _is_reviewer()
        )
    )
    return list(rows.all())


def reviewed_conversations(user_id: uuid.UUID) -> Select[uuid.UUID]:
    """The conversations a user reviews flagged content in, as a subquery for other domains."""
    return select(Participant.conversation_id).where(Participant.user_id == user_id, _is_reviewer())


def readable_conversations(user_id: uuid.UUID) -> Select[uuid.UUID, str]:
    """The conversations a user reads now, with their role there, as a subquery for other
    domains: the rule of `get_membership` (a visible membership, a conversation not deleted)
    in SQL, so that a member who left or was removed loses them at once."""
    return (
        select(Participant.conversation_id, Participant.role)
        .join(Conversation, Conversation.id == Participant.conversation_id)
        .where(
            Participant.user_id == user_id,
            Participant.status.in_(visible_statuses()),
            Conversation.status != ConversationStatus.DELETED,
        )
    )


async def get_active_role(
    session: AsyncSession, *, conversation_id: uuid.UUID, user_id: uuid.UUID | None
) -> Role | None:
    """The role of a current member, or None for someone who is no longer one."""
    if user_id is None:
        return None
    row = (
        await session.execute(
            select(Participant.role, Participant.status).where(
                Participant.conversation_id == conversation_id, Participant.user_id == user_id
            )
        )
    ).first()
    if row is None or not sees_conversation(row[1]):
        return None
    return Role(row[0])


async def load_visible(
    session: AsyncSession, *, conversation_id: uuid.UUID, user_id: uuid.UUID
) -> tuple[Conversation, Participant]:
    """The conversation and the caller's row, uncached, for actions that change them
    (CONVERSATION_NOT_FOUND unless the caller sees it)."""
    statement = (
        select(Conversation, Participant)
        .join(
            Participant,
            and_(Participant.conversation_id == Conversation.id, Participant.user_id == user_id),
        )
        .where(Conversation.id == conversation_id)
    )
    row = (await session.execute(statement)).first()
    if (
        row is None
        or not sees_conversation(row[1].status)
        or row[0].status == ConversationStatus.DELETED
    ):
        raise ConversationNotFound(conversationId=str(conversation_id))
    return row[0], row[1]


async def load_participant(
    session: AsyncSession, *, conversation_id: uuid.UUID, user_id: uuid.UUID
) -> Participant:
    """Anyone's row in the conversation, former members included (PARTICIPANT_NOT_FOUND)."""
    target = await session.scalar(
        select(Participant).where(
            Participant.conversation_id == conversation_id, Participant.user_id == user_id
        )
    )
    if target is None:
        raise ParticipantNotFound(userId=str(user_id))
    return target
