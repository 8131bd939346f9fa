"""The conversation list and one conversation, as a member sees them: unread count and a
preview of the newest message.

A read model over two domains' tables: the list is one statement (conversations, the caller's
membership and the newest message, joined), so it reads both domains' models; it never
writes them.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.conversations.access import load_visible
from parley.conversations.models import Conversation, Participant
from parley.conversations.permissions import (
    ConversationStatus,
    Role,
    may_read_held,
    visible_statuses,
)
from parley.conversations.render import conversation_out
from parley.conversations.schemas import ConversationOut, LastMessageOut
from parley.core.pagination import after_time_cursor, encode_time_cursor
from parley.core.schemas import Page
from parley.messages.models import Message
from parley.messages.schemas import MessageStatus


def preview(message: Message | None, viewer: Participant | None) -> LastMessageOut | None:
    """The list's preview of the newest message: no text once deleted, nor while held for
    review, except for its sender and the reviewers."""
    if message is None:
        return None
    out = LastMessageOut.model_validate(message)
    hidden = message.deleted_at is not None or (
        message.status == MessageStatus.MODERATED
        and (
            viewer is None
            or not may_read_held(Role(viewer.role), viewer.user_id, message.sender_id)
        )
    )
    return out.model_copy(update={"content": None}) if hidden else out


async def list_conversations(
    session: AsyncSession, *, user_id: uuid.UUID, limit: int, cursor: str | None
) -> Page[ConversationOut]:
    """The caller's conversations, most recently active first, with unread counts."""
    statement = (
        select(Conversation, Participant, Message)
        .join(Participant, Participant.conversation_id == Conversation.id)
        .outerjoin(Message, Message.id == Conversation.last_message_id)
        .where(
            Participant.user_id == user_id,
            Participant.status.in_(visible_statuses()),
            Conversation.status != ConversationStatus.DELETED,
        )
        .order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
        .limit(limit + 1)
    )
    if cursor is not None:
        statement = statement.where(
            after_time_cursor(
                cursor, Conversation.last_activity_at, Conversation.id, descending=True
            )
        )
    rows = (await session.execute(statement)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    items = [conversation_out(conv, part, preview(msg, part)) for conv, part, msg in rows]
    next_cursor = None
    if more:
        last = rows[-1][0]
        next_cursor = encode_time_cursor(last.last_activity_at, last.id)
    return Page[ConversationOut](items=items, next_cursor=next_cursor)


async def get_conversation(
    session: AsyncSession, *, user_id: uuid.UUID, conversation_id: uuid.UUID
) -> ConversationOut:
    """One conversation the caller belongs to (404 otherwise)."""
    conversation, participant = await load_visible(
        session, conversation_id=conversation_id, user_id=user_id
    )
    last_message = (
        await session.get(Message, conversation.last_message_id)
        if conversation.last_message_id
        else None
    )
    return conversation_out(conversation, participant, preview(last_message, participant))
