"""The conversations one user is or was in, for their export (reads only)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.conversations.models import Conversation, Participant
from parley.conversations.render import conversation_out
from parley.conversations.schemas import ConversationOut


async def conversations_page(
    session: AsyncSession, *, user_id: uuid.UUID, after: uuid.UUID | None, limit: int
) -> list[ConversationOut]:
    """The user's conversations (any membership status) after `after` (keyset by id), as
    the API renders them for that user."""
    statement = (
        select(Conversation, Participant)
        .join(Participant, Participant.conversation_id == Conversation.id)
        .where(Participant.user_id == user_id)
        .order_by(Conversation.id)
        .limit(limit)
    )
    if after is not None:
        statement = statement.where(Conversation.id > after)
    rows = (await session.execute(statement)).all()
    return [conversation_out(conversation, participant) for conversation, participant in rows]
