"""What one user wrote, for their export: a page at a time (keyset), rendered as the API
renders it. Reads only."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.core.schemas import iso_z
from parley.messages.models import Message, MessageVersion, Reaction
from parley.messages.render import render
from parley.messages.schemas import MessageOut


async def sent_page(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    after_seq: int,
    limit: int,
) -> list[MessageOut]:
    """The user's messages in one conversation after `after_seq`, by seq (the
    (conversation, seq) index), with their reactions, as GET /messages/{id} shows them."""
    messages = (
        await session.scalars(
            select(Message)
            .where(
                Message.conversation_id == conversation_id,
                Message.seq > after_seq,
                Message.sender_id == user_id,
            )
            .order_by(Message.seq)
            .limit(limit)
        )
    ).all()
    return await render(session, list(messages))


async def reactions_page(
    session: AsyncSession, *, user_id: uuid.UUID, after: uuid.UUID | None, limit: int
) -> list[tuple[uuid.UUID, dict[str, Any]]]:
    """The user's reactions after `after` (keyset by id): (id, JSON)."""
    statement = (
        select(Reaction).where(Reaction.user_id == user_id).order_by(Reaction.id).limit(limit)
    )
    if after is not None:
        statement = statement.where(Reaction.id > after)
    return [
        (
            reaction.id,
            {
                "messageId": str(reaction.message_id),
                "emoji": reaction.emoji,
                "createdAt": iso_z(reaction.created_at),
            },
        )
        for reaction in (await session.scalars(statement)).all()
    ]


async def versions_page(
    session: AsyncSession, *, user_id: uuid.UUID, after: uuid.UUID | None, limit: int
) -> list[tuple[uuid.UUID, dict[str, Any]]]:
    """Earlier versions of the user's edited messages after `after` (keyset by id)."""
    statement = (
        select(MessageVersion)
        .join(Message, Message.id == MessageVersion.message_id)
        .where(Message.sender_id == user_id)
        .order_by(MessageVersion.id)
        .limit(limit)
    )
    if after is not None:
        statement = statement.where(MessageVersion.id > after)
    return [
        (
            version.id,
            {
                "messageId": str(version.message_id),
                "version": version.version,
                "content": version.content,
                "createdAt": iso_z(version.created_at),
                "replacedAt": iso_z(version.replaced_at),
            },
        )
        for version in (await session.scalars(statement)).all()
    ]


async def count_written(session: AsyncSession, *, user_id: uuid.UUID) -> int:
    """Messages, reactions and earlier versions of the user: the export's item count."""
    messages = await session.scalar(
        select(func.count()).select_from(Message).where(Message.sender_id == user_id)
    )
    reactions = await session.scalar(
        select(func.count()).select_from(Reaction).where(Reaction.user_id == user_id)
    )
    versions = await session.scalar(
        select(func.count())
        .select_from(MessageVersion)
        .join(Message, Message.id == MessageVersion.message_id)
        .where(Message.sender_id == user_id)
    )
    return int(messages or 0) + int(reactions or 0) + int(versions or 0)
