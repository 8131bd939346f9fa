"""HTTP routes of the inbox: the conversation list, one conversation, and marking as read.

They live under /conversations (the contract's paths) but here, above both the conversation
and the message domains, because each of them reads both.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from parley.accounts.dependencies import CurrentUser
from parley.conversations.schemas import ConversationOut, ParticipantOut
from parley.core.deps import ReadSessionDep, SessionDep
from parley.core.schemas import Page
from parley.inbox import queries, receipts
from parley.inbox.schemas import ReadRequest

router = APIRouter(prefix="/conversations", tags=["conversations"])

Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=300)]


@router.get("", response_model=Page[ConversationOut])
async def list_conversations(
    user: CurrentUser, session: ReadSessionDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[ConversationOut]:
    """The caller's conversations, most recently active first, with unread count and last
    message."""
    return await queries.list_conversations(session, user_id=user.id, limit=limit, cursor=cursor)


@router.get("/{conversation_id}", response_model=ConversationOut)
async def get_conversation(
    conversation_id: uuid.UUID, user: CurrentUser, session: ReadSessionDep
) -> ConversationOut:
    return await queries.get_conversation(session, user_id=user.id, conversation_id=conversation_id)


@router.post("/{conversation_id}/read", response_model=ParticipantOut)
async def mark_read(
    conversation_id: uuid.UUID, body: ReadRequest, user: CurrentUser, session: SessionDep
) -> ParticipantOut:
    """Mark everything up to `messageId` as read; answers the caller's membership with its
    new `unreadCount`."""
    return await receipts.mark_read(
        session, user_id=user.id, conversation_id=conversation_id, message_id=body.message_id
    )
