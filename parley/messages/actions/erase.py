"""Erasing what a user wrote (GDPR erasure): their messages stay as tombstones so others'
conversations and `seq` stay whole; everything else of theirs in the message tables goes."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from parley.core.db import utcnow
from parley.messages import search_vector
from parley.messages.models import (
    Hashtag,
    Mention,
    Message,
    MessageVersion,
    Reaction,
    ScheduledMessage,
)
from parley.messages.schemas import MessageStatus

ERASED_MENTION = "@deleted-user"
_BATCH = 500


async def redact_mentions_of(session: AsyncSession, *, user_id: uuid.UUID, username: str) -> None:
    """Replace `@username` with `@deleted-user` in others' messages that mention the user
    (current text, earlier versions and the `mentions` metadata), so the old username does
    not outlive the account in its mentions. No version is kept of this change: it would
    keep the name. Run before `erase_messages_of`, which deletes the mention rows."""
    pattern = re.compile(rf"@{re.escape(username)}(?![\w.-]*\w)", re.IGNORECASE)
    lowered = username.lower()
    mentioning = select(Mention.message_id).where(Mention.user_id == user_id)
    after: uuid.UUID | None = None
    while True:
        statement = select(Message).where(Message.id.in_(mentioning)).order_by(Message.id)
        if after is not None:
            statement = statement.where(Message.id > after)
        messages = (await session.scalars(statement.limit(_BATCH))).all()
        if not messages:
            return
        rewritten: list[Message] = []
        for message in messages:
            if message.content:
                redacted = pattern.sub(ERASED_MENTION, message.content)
                if redacted != message.content:
                    message.content = redacted
                    rewritten.append(message)
            named = (message.extra or {}).get("mentions")
            if isinstance(named, list) and lowered in named:
                message.extra = {
                    **message.extra,
                    "mentions": [name for name in named if name != lowered],
                }
        versions = (
            await session.scalars(
                select(MessageVersion).where(
                    MessageVersion.message_id.in_([m.id for m in messages])
                )
            )
        ).all()
        for version in versions:
            if version.content:
                version.content = pattern.sub(ERASED_MENTION, version.content)
        await session.flush()
        # New text needs a new search vector on PostgreSQL (the words of the name would stay
        # in the index otherwise); SQLite's triggers re-index on the content update.
        for message in rewritten:
            await search_vector.write_vector(
                session, message_id=message.id, content=message.content, encrypted=message.encrypted
            )
        after = messages[-1].id


async def drop_attachment_refs(
    session: AsyncSession, *, carriers: dict[uuid.UUID, set[str]]
) -> None:
    """Remove references to erased uploads (their names and sizes) from the messages that
    carry them, others' forwards included; the rest of each message stays."""
    for message_id, attachment_ids in carriers.items():
        message = await session.get(Message, message_id)
        if message is None or not message.attachments:
            continue
        message.attachments = [
            ref
            for ref in message.attachments
            if not (isinstance(ref, dict) and ref.get("id") in attachment_ids)
        ]
    await session.flush()


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
