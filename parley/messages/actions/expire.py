"""Retention's deletion of old messages (hard: the row and everything hanging off it).

The one place that hard-deletes message rows. The caller (parley/retention/) picks the cutoff,
runs one batch per transaction and records the audit entry; this removes one batch of one
conversation: edit history, reactions, mentions and hashtags, the attachment links and the
files no other message carries, and the rows themselves (which takes their search entry: the
PostgreSQL vector is a column of the row, and SQLite's FTS5 row goes with the delete trigger
of migration 0008). Moderation items go by their foreign key's cascade."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Delete, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.attachments.actions.expire import release_expired
from parley.attachments.storage import Storage
from parley.conversations.counters import forget_expired
from parley.messages.models import Hashtag, Mention, Message, MessageVersion, Reaction


@dataclass(frozen=True)
class Expired:
    """What one batch removed."""

    messages: int
    versions: int
    reactions: int
    files: int


async def expire_messages(
    session: AsyncSession,
    *,
    conversation_id: uuid.UUID,
    cutoff: datetime,
    storage: Storage,
    limit: int,
) -> Expired:
    """Delete up to `limit` of the conversation's messages whose serverTimestamp is before
    `cutoff`, oldest seq first, with what hangs off them; counters follow (counters.py).
    Scheduled messages are another table and wait for their time untouched."""
    rows = (
        await session.execute(
            select(Message.id, Message.seq)
            .where(Message.conversation_id == conversation_id, Message.server_timestamp < cutoff)
            .order_by(Message.seq)
            .limit(limit)
        )
    ).all()
    if not rows:
        return Expired(messages=0, versions=0, reactions=0, files=0)
    ids = [row[0] for row in rows]
    files = await release_expired(session, message_ids=ids, storage=storage)
    # Children first and explicitly: the counts go into the audit entry, and nothing depends
    # on SQLite's foreign_keys pragma for them.
    versions = await _deleted(
        session, delete(MessageVersion).where(MessageVersion.message_id.in_(ids))
    )
    reactions = await _deleted(session, delete(Reaction).where(Reaction.message_id.in_(ids)))
    await _deleted(session, delete(Mention).where(Mention.message_id.in_(ids)))
    await _deleted(session, delete(Hashtag).where(Hashtag.message_id.in_(ids)))
    removed = await _deleted(session, delete(Message).where(Message.id.in_(ids)))
    newest_left = await session.scalar(
        select(Message.id)
        .where(Message.conversation_id == conversation_id)
        .order_by(Message.seq.desc())
        .limit(1)
    )
    await forget_expired(
        session,
        conversation_id=conversation_id,
        removed_ids=ids,
        highest_removed_seq=max(row[1] for row in rows),
        newest_left_id=newest_left,
    )
    return Expired(messages=removed, versions=versions, reactions=reactions, files=files)


async def _deleted(session: AsyncSession, statement: Delete) -> int:
    """Run a bulk delete; the number of rows it removed."""
    result = await session.execute(statement.execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]
