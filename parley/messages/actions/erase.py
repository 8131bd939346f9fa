"""Erasing what a user wrote (GDPR erasure): their messages stay as tombstones so others'
conversations and `seq` stay whole; everything else of theirs in the message tables goes."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from parley.core.db import utcnow
from parley.messages.models import (
    Hashtag,
    Mention,
    Message,
    MessageVersion,
    Reaction,
    ScheduledMessage,
)
from parley.messages.schemas import MessageStatus


async def erase_messages_of(session: AsyncSession, *, user_id: uuid.UUID) -> int:
    """Tombstone every message the user sent (content, attachments and metadata cleared,
    deleted), and delete their edit history, reactions, mentions (of them and by their
    messages), their messages' hashtags and their scheduled messages. The number of
    messages tombstoned.

    One UPDATE through the ORM table, so the search triggers (which follow `content` and
    `deleted_at`) drop the rows from the index on both engines."""
    sent = select(Message.id).where(Message.sender_id == user_id)
    await session.execute(delete(MessageVersion).where(MessageVersion.message_id.in_(sent)))
    await session.execute(delete(Hashtag).where(Hashtag.message_id.in_(sent)))
    await session.execute(
        delete(Mention).where(or_(Mention.user_id == user_id, Mention.message_id.in_(sent)))
    )
    await session.execute(delete(Reaction).where(Reaction.user_id == user_id))
    await session.execute(delete(ScheduledMessage).where(ScheduledMessage.sender_id == user_id))
    now = utcnow()
    result = await session.execute(
        update(Message)
        .where(Message.sender_id == user_id)
        .values(
            content=None,
            attachments=[],
            extra={},
            client_message_id=None,
            status=MessageStatus.DELETED,
            deleted_at=func.coalesce(Message.deleted_at, now),
            deleted_by=user_id,
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
