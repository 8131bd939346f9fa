"""Reactions: one per user, message and emoji; adding and taking back pass the write gate."""

from __future__ import annotations

import unicodedata
import uuid
from datetime import UTC

from sqlalchemy import case, delete, distinct, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from parley.conversations import counters
from parley.core.errors import MessageDeleted, ValidationFailed
from parley.core.events import Event, conversation_room, emit_after_commit
from parley.messages.events import REACTION_ADDED, REACTION_REMOVED
from parley.messages.gate import admit_reaction, require_may_react, require_reaction_room
from parley.messages.models import Message, Reaction
from parley.messages.queries import load_visible
from parley.messages.render import reactions_for
from parley.messages.schemas import ReactionEvent, ReactionOut


async def add_reaction(
    session: AsyncSession, *, user_id: uuid.UUID, message_id: uuid.UUID, emoji: str
) -> ReactionOut:
    """React once per emoji where the gate lets one react (flag canReact, the conversation's
    state), within the caps per message and per user and RATE_LIMIT_REACTIONS a minute;
    reacting again changes nothing."""
    value = _checked_emoji(emoji)
    # The message row is locked so that concurrent reactions cannot overshoot the caps.
    message, membership = await load_visible(
        session, user_id=user_id, message_id=message_id, for_update=True
    )
    if message.deleted_at is not None:
        raise MessageDeleted()
    require_may_react(membership)
    mine = set(
        await session.scalars(
            select(Reaction.emoji).where(
                Reaction.message_id == message.id, Reaction.user_id == user_id
            )
        )
    )
    if value not in mine:
        on_message, already_there = (
            await session.execute(
                select(
                    func.count(distinct(Reaction.emoji)),
                    func.coalesce(func.max(case((Reaction.emoji == value, 1), else_=0)), 0),
                ).where(Reaction.message_id == message.id)
            )
        ).one()
        require_reaction_room(
            users_reactions=len(mine),
            emoji_on_message=int(on_message),
            emoji_new=not already_there,
        )
    await admit_reaction(user_id=user_id, membership=membership)
    added = False
    if value not in mine:
        try:
            async with session.begin_nested():
                session.add(Reaction(message_id=message.id, user_id=user_id, emoji=value))
            added = True
        except IntegrityError:
            pass  # the same reaction raced in: the result is the same
    if added:
        await _count(session, message=message, emoji=value, delta=1)
    return await _reaction_out(
        session,
        message=message,
        emoji=value,
        user_id=user_id,
        announce=REACTION_ADDED if added else None,
    )


async def remove_reaction(
    session: AsyncSession, *, user_id: uuid.UUID, message_id: uuid.UUID, emoji: str
) -> ReactionOut:
    """Take one's own reaction back, only where one may react (the same gate and rate limit
    as adding: it is a change others see); removing one that is not there changes nothing."""
    value = _checked_emoji(emoji)
    message, membership = await load_visible(session, user_id=user_id, message_id=message_id)
    require_may_react(membership)
    await admit_reaction(user_id=user_id, membership=membership)
    result = await session.execute(
        delete(Reaction).where(
            Reaction.message_id == message.id, Reaction.user_id == user_id, Reaction.emoji == value
        )
    )
    removed = bool(getattr(result, "rowcount", 0))
    if removed:
        await _count(session, message=message, emoji=value, delta=-1)
    return await _reaction_out(
        session,
        message=message,
        emoji=value,
        user_id=user_id,
        announce=REACTION_REMOVED if removed else None,
    )


async def _count(session: AsyncSession, *, message: Message, emoji: str, delta: int) -> None:
    """The analytics' per-day reaction counter, keyed by the reacted message's UTC day (the day
    the committer counted it under), moves in this transaction."""
    await counters.count_reaction(
        session,
        conversation_id=message.conversation_id,
        day=message.server_timestamp.astimezone(UTC).date(),
        emoji=emoji,
        delta=delta,
    )


def _checked_emoji(emoji: str) -> str:
    value = emoji.strip()
    if (
        not value
        or len(value) > 32
        or any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in value)
    ):
        raise ValidationFailed("emoji must be 1-32 characters without spaces", field="emoji")
    return value


async def _reaction_out(
    session: AsyncSession,
    *,
    message: Message,
    emoji: str,
    user_id: uuid.UUID,
    announce: Event[ReactionEvent] | None,
) -> ReactionOut:
    """The message's reactions now; with `announce`, the change goes to the room after
    commit (with the emoji's new count)."""
    reactions = (await reactions_for(session, [message.id])).get(message.id, {})
    summary = reactions.get(emoji)
    count = summary.count if summary else 0
    if announce is not None:
        emit_after_commit(
            session,
            announce,
            ReactionEvent(message_id=message.id, emoji=emoji, user_id=user_id, count=count),
            rooms=[conversation_room(message.conversation_id)],
        )
    return ReactionOut(
        message_id=message.id, emoji=emoji, user_id=user_id, count=count, reactions=reactions
    )
