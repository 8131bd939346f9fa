"""HTTP routes for conversations and participants."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from parley.accounts.dependencies import CurrentUser
from parley.conversations import service
from parley.conversations.permissions import ParticipantStatus, Role
from parley.conversations.schemas import (
    ConversationCreate,
    ConversationOut,
    ConversationUpdate,
    ParticipantOut,
    ParticipantsAdd,
    ParticipantUpdate,
    ReadRequest,
)
from parley.core.deps import SessionDep
from parley.core.schemas import Page

router = APIRouter(prefix="/conversations", tags=["conversations"])

Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=300)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ConversationOut,
    responses={200: {"model": ConversationOut, "description": "The existing DIRECT conversation"}},
)
async def create_conversation(
    body: ConversationCreate, user: CurrentUser, session: SessionDep, response: Response
) -> ConversationOut:
    """Create a conversation; a DIRECT one between the same two people is returned (200)."""
    conversation, created = await service.create_conversation(
        session, creator_id=user.id, data=body
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return conversation


@router.get("", response_model=Page[ConversationOut])
async def list_conversations(
    user: CurrentUser, session: SessionDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[ConversationOut]:
    """The caller's conversations, most recently active first, with unread count and last
    message."""
    return await service.list_conversations(session, user_id=user.id, limit=limit, cursor=cursor)


@router.get("/{conversation_id}", response_model=ConversationOut)
async def get_conversation(
    conversation_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> ConversationOut:
    return await service.get_conversation(session, user_id=user.id, conversation_id=conversation_id)


@router.patch("/{conversation_id}", response_model=ConversationOut)
async def update_conversation(
    conversation_id: uuid.UUID, body: ConversationUpdate, user: CurrentUser, session: SessionDep
) -> ConversationOut:
    return await service.update_conversation(
        session, actor_id=user.id, conversation_id=conversation_id, data=body
    )


@router.post(
    "/{conversation_id}/participants",
    status_code=status.HTTP_201_CREATED,
    response_model=list[ParticipantOut],
)
async def add_participants(
    conversation_id: uuid.UUID, body: ParticipantsAdd, user: CurrentUser, session: SessionDep
) -> list[ParticipantOut]:
    return await service.add_participants(
        session,
        actor_id=user.id,
        conversation_id=conversation_id,
        user_ids=body.user_ids,
        role=Role(body.role),
    )


@router.get("/{conversation_id}/participants", response_model=Page[ParticipantOut])
async def list_participants(
    conversation_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    status_filter: Annotated[ParticipantStatus | None, Query(alias="status")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[ParticipantOut]:
    return await service.list_participants(
        session,
        user_id=user.id,
        conversation_id=conversation_id,
        status=status_filter,
        limit=limit,
        cursor=cursor,
    )


@router.patch("/{conversation_id}/participants/{user_id}", response_model=ParticipantOut)
async def update_participant(
    conversation_id: uuid.UUID,
    user_id: uuid.UUID,
    body: ParticipantUpdate,
    user: CurrentUser,
    session: SessionDep,
) -> ParticipantOut:
    return await service.update_participant(
        session,
        actor_id=user.id,
        conversation_id=conversation_id,
        target_user_id=user_id,
        data=body,
    )


@router.delete("/{conversation_id}/participants/{user_id}", response_model=ParticipantOut)
async def remove_participant(
    conversation_id: uuid.UUID, user_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> ParticipantOut:
    """Remove a member, or leave the conversation when `user_id` is the caller."""
    return await service.remove_participant(
        session, actor_id=user.id, conversation_id=conversation_id, target_user_id=user_id
    )


@router.post("/{conversation_id}/read", response_model=ParticipantOut)
async def mark_read(
    conversation_id: uuid.UUID, body: ReadRequest, user: CurrentUser, session: SessionDep
) -> ParticipantOut:
    """Mark everything up to `messageId` as read; answers the caller's membership with its
    new `unreadCount`."""
    return await service.mark_read(
        session, user_id=user.id, conversation_id=conversation_id, message_id=body.message_id
    )
