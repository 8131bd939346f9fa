"""Reading messages: one, a page, catch-up, history, a thread (no side effects)."""

from __future__ import annotations

import uuid
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.conversations import access
from parley.conversations.permissions import Membership, may_read_held
from parley.conversations.queries import delivery_tracker
from parley.core import runtime
from parley.core.errors import ConversationNotFound, MessageNotFound, MessagePending
from parley.core.pagination import decode_seq_cursor, encode_seq_cursor
from parley.messages.committer import Committer, PendingSend
from parley.messages.models import Message, MessageVersion
from parley.messages.pipeline import pending_out
from parley.messages.render import render
from parley.messages.schemas import (
    MessageHistory,
    MessageOut,
    MessagePage,
    MessageStatus,
    MessageVersionOut,
    ThreadPage,
)


class PreviewTarget(NamedTuple):
    """What the link preview worker needs to know of a message before fetching."""

    conversation_id: uuid.UUID
    urls: list[str]
    encrypted: bool
    held: bool
    deleted: bool


async def preview_target(session: AsyncSession, *, message_id: uuid.UUID) -> PreviewTarget | None:
    """A committed message's links and the states that rule out previews (None: no such
    message)."""
    row = (
        await session.execute(
            select(
                Message.conversation_id,
                Message.extra,
                Message.encrypted,
                Message.status,
                Message.deleted_at,
            ).where(Message.id == message_id)
        )
    ).first()
    if row is None:
        return None
    return PreviewTarget(
        conversation_id=row[0],
        urls=[str(url) for url in (row[1] or {}).get("urls", [])],
        encrypted=bool(row[2]),
        held=row[3] == MessageStatus.MODERATED,
        deleted=row[4] is not None,
    )


class Position(NamedTuple):
    seq: int
    sender_id: uuid.UUID | None


async def position_of(
    session: AsyncSession, *, conversation_id: uuid.UUID, message_id: uuid.UUID
) -> Position | None:
    """A committed message's seq and sender, if it belongs to the conversation."""
    row = (
        await session.execute(
            select(Message.seq, Message.sender_id).where(
                Message.id == message_id, Message.conversation_id == conversation_id
            )
        )
    ).first()
    return None if row is None else Position(row[0], row[1])


async def load_visible(
    session: AsyncSession, *, user_id: uuid.UUID, message_id: uuid.UUID, for_update: bool = False
) -> tuple[Message, Membership]:
    """A committed message the caller may read; pending ones answer MESSAGE_PENDING."""
    if (pending := _own_pending(message_id, user_id)) is not None and pending.result is None:
        raise MessagePending(messageId=str(message_id))
    statement = select(Message).where(Message.id == message_id)
    if for_update:
        statement = statement.with_for_update()
    message = await session.scalar(statement)
    if message is None:
        raise MessageNotFound(messageId=str(message_id))
    return message, await _reader(session, message, user_id)


def _own_pending(message_id: uuid.UUID, user_id: uuid.UUID) -> PendingSend | None:
    """The caller's own send of this id still in the committer's hands (or failed there).

    Asked BEFORE the database: the committer drops a send from its map only after the commit,
    so a read that finds nothing here starts after the commit and sees the row (a read-only
    SQLite connection reads a snapshot; asked the other way round, a commit landing between
    the read and this lookup would make a just-sent message look missing)."""
    instance = runtime.current().find(Committer)
    if instance is None:
        return None
    pending = instance.by_id.get(message_id) or instance.failed.get(message_id)
    return pending if pending is not None and pending.row["sender_id"] == user_id else None


async def _reader(session: AsyncSession, message: Message, user_id: uuid.UUID) -> Membership:
    """The caller's membership where the message is; to anyone else it does not exist."""
    try:
        return await access.get_membership(
            session, conversation_id=message.conversation_id, user_id=user_id
        )
    except ConversationNotFound:
        raise MessageNotFound(messageId=str(message.id)) from None


async def get_message(
    session: AsyncSession, *, user_id: uuid.UUID, message_id: uuid.UUID
) -> MessageOut:
    """One message the caller may read; their own pending or failed sends too."""
    pending = _own_pending(message_id, user_id)
    if pending is not None and pending.result is None:
        return pending_out(pending)
    message = await session.get(Message, message_id)
    if message is None:
        raise MessageNotFound(messageId=str(message_id))
    membership = await _reader(session, message, user_id)
    out = (await render(session, [message], membership))[0]
    if membership.read_receipts and message.deleted_at is None:
        out.delivery_tracker = await delivery_tracker(
            session,
            conversation_id=message.conversation_id,
            seq=message.seq,
            sender_id=message.sender_id,
        )
    return out


async def list_messages(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    limit: int,
    before: str | None,
    after: str | None,
    after_seq: int | None,
) -> MessagePage:
    """Newest first (`before` pages back); with `afterSeq`/`after`, ascending for catch-up."""
    membership = await access.get_membership(
        session, conversation_id=conversation_id, user_id=user_id
    )
    if after is not None:
        after_seq = decode_seq_cursor(after, "after")
    statement = select(Message).where(Message.conversation_id == conversation_id).limit(limit + 1)
    if after_seq is not None:
        statement = statement.where(Message.seq > after_seq).order_by(Message.seq)
    else:
        statement = statement.order_by(Message.seq.desc())
        if before is not None:
            statement = statement.where(Message.seq < decode_seq_cursor(before, "before"))
    messages = list((await session.scalars(statement)).all())
    more = len(messages) > limit
    messages = messages[:limit]
    return MessagePage(
        items=await render(session, messages, membership),
        next_cursor=encode_seq_cursor(messages[-1].seq) if more else None,
        has_more=more,
    )


async def get_history(
    session: AsyncSession, *, user_id: uuid.UUID, message_id: uuid.UUID
) -> MessageHistory:
    """Every version of a message, oldest first; the current text is the last."""
    message, membership = await load_visible(session, user_id=user_id, message_id=message_id)
    if message.deleted_at is not None or (
        message.status == MessageStatus.MODERATED
        and not may_read_held(membership.role, membership.user_id, message.sender_id)
    ):
        return MessageHistory(message_id=message.id, items=[])
    versions = (
        await session.scalars(
            select(MessageVersion)
            .where(MessageVersion.message_id == message_id)
            .order_by(MessageVersion.version)
        )
    ).all()
    items = [
        MessageVersionOut(version=v.version, content=v.content, created_at=v.created_at)
        for v in versions
    ]
    items.append(
        MessageVersionOut(
            version=message.version,
            content=message.content,
            created_at=message.edited_at or message.server_timestamp,
            current=True,
        )
    )
    return MessageHistory(message_id=message.id, items=items)


async def get_thread(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    message_id: uuid.UUID,
    limit: int,
    after: str | None,
) -> ThreadPage:
    """A thread's root and its replies in order (asking with a reply gives its thread)."""
    root, membership = await load_visible(session, user_id=user_id, message_id=message_id)
    if root.thread_id is not None:
        root, _ = await load_visible(session, user_id=user_id, message_id=root.thread_id)
    statement = (
        select(Message).where(Message.thread_id == root.id).order_by(Message.seq).limit(limit + 1)
    )
    if after is not None:
        statement = statement.where(Message.seq > decode_seq_cursor(after, "after"))
    replies = list((await session.scalars(statement)).all())
    more = len(replies) > limit
    replies = replies[:limit]
    rendered = await render(session, [root, *replies], membership)
    return ThreadPage(
        root=rendered[0],
        items=rendered[1:],
        next_cursor=encode_seq_cursor(replies[-1].seq) if more else None,
        has_more=more,
    )
