"""HTTP routes for the review queue."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from parley.accounts.dependencies import CurrentUser
from parley.core.deps import ReadSessionDep, SessionDep
from parley.core.schemas import Page
from parley.moderation import actions, queries
from parley.moderation.schemas import DecisionRequest, ModerationItemOut
from parley.screening.schemas import ItemStatus

router = APIRouter(prefix="/moderation", tags=["moderation"])


@router.get("/queue", response_model=Page[ModerationItemOut])
async def list_queue(
    user: CurrentUser,
    session: ReadSessionDep,
    status: Annotated[ItemStatus | Literal["ALL"], Query()] = ItemStatus.PENDING,
    conversation_id: Annotated[uuid.UUID | None, Query(alias="conversationId")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[str | None, Query(max_length=300)] = None,
) -> Page[ModerationItemOut]:
    """Flagged messages in the conversations the caller reviews (moderator and above),
    newest first; `status=ALL` includes decided ones."""
    return await queries.list_queue(
        session,
        user_id=user.id,
        status=None if status == "ALL" else ItemStatus(status),
        conversation_id=conversation_id,
        limit=limit,
        before=before,
    )


@router.post("/queue/{item_id}/decision", response_model=ModerationItemOut)
async def decide(
    item_id: uuid.UUID, body: DecisionRequest, user: CurrentUser, session: SessionDep
) -> ModerationItemOut:
    """APPROVE releases a held message; REJECT removes the message."""
    return await actions.decide(session, user_id=user.id, item_id=item_id, decision=body)
