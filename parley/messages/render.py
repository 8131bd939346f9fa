"""Messages as clients see them: deleted ones without content, held ones without content
except for their sender and the reviewers."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.conversations.permissions import Membership, may_read_held
from parley.messages.models import Message, Reaction
from parley.messages.schemas import MessageOut, MessageStatus, ReactionSummary


def message_out(
    values: Mapping[str, Any], reactions: dict[str, ReactionSummary] | None = None
) -> MessageOut:
    """A message as clients see it; a deleted one keeps its place but not its content."""
    deleted = values["deleted_at"] is not None
    return MessageOut(
        id=values["id"],
        conversation_id=values["conversation_id"],
        sender_id=values["sender_id"],
        seq=values.get("seq"),
        type=values["type"],
        content=None if deleted else values["content"],
        status=MessageStatus.DELETED if deleted else values["status"],
        reply_to_id=values["reply_to_id"],
        thread_id=values["thread_id"],
        forwarded_from_id=values["forwarded_from_id"],
        attachments=[] if deleted else list(values["attachments"] or []),
        metadata={} if deleted else dict(values["metadata"] or {}),
        reactions={} if deleted else (reactions or {}),
        client_message_id=values["client_message_id"],
        client_timestamp=values["client_timestamp"],
        server_timestamp=values["server_timestamp"],
        edited_at=values["edited_at"],
        deleted_at=values["deleted_at"],
        encrypted=values["encrypted"],
        version=values["version"],
    )


async def reactions_for(
    session: AsyncSession, message_ids: list[uuid.UUID]
) -> dict[uuid.UUID, dict[str, ReactionSummary]]:
    if not message_ids:
        return {}
    rows = await session.execute(
        select(Reaction.message_id, Reaction.emoji, Reaction.user_id)
        .where(Reaction.message_id.in_(message_ids))
        .order_by(Reaction.created_at, Reaction.id)
    )
    grouped: dict[uuid.UUID, dict[str, list[uuid.UUID]]] = {}
    for message_id, emoji, user_id in rows:
        grouped.setdefault(message_id, {}).setdefault(emoji, []).append(user_id)
    return {
        message_id: {
            emoji: ReactionSummary(count=len(users), user_ids=users)
            for emoji, users in by_emoji.items()
        }
        for message_id, by_emoji in grouped.items()
    }


def withheld(out: MessageOut) -> MessageOut:
    """A held message as members other than its sender and the reviewers see it."""
    return out.model_copy(update={"content": None, "attachments": [], "metadata": {}})


def as_seen_by(out: MessageOut, viewer: Membership | None) -> MessageOut:
    if out.status != MessageStatus.MODERATED or viewer is None:
        return out
    return out if may_read_held(viewer.role, viewer.user_id, out.sender_id) else withheld(out)


async def render(
    session: AsyncSession, messages: list[Message], viewer: Membership | None = None
) -> list[MessageOut]:
    """Messages with their reactions; a held one without content unless `viewer` may read it."""
    reactions = await reactions_for(session, [m.id for m in messages if m.deleted_at is None])
    return [
        as_seen_by(message_out(m.column_values(), reactions.get(m.id)), viewer) for m in messages
    ]
