"""HTTP routes for conversations and participants (the list and reading are in inbox/)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from parley.accounts.dependencies import CurrentUser
from parley.conversations import queries
from parley.conversations.actions.add_participants import add_participants as add
from parley.conversations.actions.change_role import change_role
from parley.conversations.actions.create_conversation import create_conversation as create
from parley.conversations.actions.remove_participant import remove_participant as remove
from parley.conversations.actions.set_flags import set_flags
from parley.conversations.actions.set_notification_settings import set_notification_settings
from parley.conversations.actions.set_status import set_status
from parley.conversations.actions.update_conversation import update_conversation as update
from parley.conversations.permissions import ParticipantStatus, Role
from parley.conversations.schemas import (
    ConversationCreate,
    ConversationOut,
    ConversationUpdate,
    ParticipantOut,
    ParticipantsAdd,
    ParticipantUpdate,
)
from parley.core.deps import ReadSessionDep, SessionDep
from parley.core.idempotency import Answer, IdempotencyKey
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
    body: ConversationCreate, user: CurrentUser, session: SessionDep, idempotency: IdempotencyKey
) -> Response:
    """Create a conversation; a DIRECT one between the same two people is returned (200)."""

    async def run() -> Answer:
        conversation, created = await create(session, creator_id=user.id, data=body)
        return Answer.of(status.HTTP_201_CREATED if created else status.HTTP_200_OK, conversation)

    return await idempotency.once(session, user_id=user.id, body=body, run=run)


@router.patch("/{conversation_id}", response_model=ConversationOut)
async def update_conversation(
    conversation_id: uuid.UUID, body: ConversationUpdate, user: CurrentUser, session: SessionDep
) -> ConversationOut:
    return await update(session, actor_id=user.id, conversation_id=conversation_id, data=body)


@router.post(
    "/{conversation_id}/participants",
    status_code=status.HTTP_201_CREATED,
    response_model=list[ParticipantOut],
)
async def add_participants(
    conversation_id: uuid.UUID,
    body: ParticipantsAdd,
    user: CurrentUser,
    session: SessionDep,
    idempotency: IdempotencyKey,
) -> Response:
    async def run() -> Answer:
        added = await add(
            session,
            actor_id=user.id,
            conversation_id=conversation_id,
            user_ids=body.user_ids,
            role=Role(body.role),
        )
        return Answer.of(status.HTTP_201_CREATED, added)

    return await idempotency.once(session, user_id=user.id, body=body, run=run)


@router.get("/{conversation_id}/participants", response_model=Page[ParticipantOut])
async def list_participants(
    conversation_id: uuid.UUID,
    user: CurrentUser,
    session: ReadSessionDep,
    status_filter: Annotated[ParticipantStatus | None, Query(alias="status")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[ParticipantOut]:
    return await queries.list_participants(
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
    """Each field sent is its own change (own notification settings, role, status, flags),
    applied in that order in one transaction: all of them or none."""
    who = {"actor_id": user.id, "conversation_id": conversation_id, "target_user_id": user_id}
    result = None
    if body.notification_settings is not None:
        result = await set_notification_settings(
            session, **who, settings=body.notification_settings
        )
    if body.role is not None:
        result = await change_role(session, **who, role=body.role)
    if body.status is not None:
        result = await set_status(session, **who, status=body.status)
    if body.permissions is not None:
        result = await set_flags(session, **who, flags=body.permissions)
    if result is None:
        result = await queries.get_participant(
            session, user_id=user.id, conversation_id=conversation_id, target_user_id=user_id
        )
    return result


@router.delete("/{conversation_id}/participants/{user_id}", response_model=ParticipantOut)
async def remove_participant(
    conversation_id: uuid.UUID, user_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> ParticipantOut:
    """Remove a member, or leave the conversation when `user_id` is the caller."""
    return await remove(
        session, actor_id=user.id, conversation_id=conversation_id, target_user_id=user_id
    )
