"""HTTP for the caller's scheduled messages (`POST /messages` with `scheduledAt` makes one).

Registered before the messages router: its `GET /messages/{id}` would match
`/messages/scheduled` first."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from parley.accounts.dependencies import CurrentUser
from parley.core.deps import ReadSessionDep, SessionDep
from parley.core.schemas import error_responses
from parley.messages.scheduled import actions
from parley.messages.scheduled.schemas import (
    ScheduledMessageEdit,
    ScheduledMessageOut,
    ScheduledMessagePage,
    ScheduledStatus,
)

router = APIRouter(prefix="/messages/scheduled", tags=["scheduled messages"])

_NOT_FOUND = "SCHEDULED_MESSAGE_NOT_FOUND: no such scheduled message of the caller's"
_ERRORS = {401: "UNAUTHORIZED: no valid token", 404: _NOT_FOUND}


@router.get(
    "",
    response_model=ScheduledMessagePage,
    responses=error_responses(
        {401: _ERRORS[401], 422: "VALIDATION_ERROR: a bad status, limit or cursor"}
    ),
)
async def list_scheduled(
    user: CurrentUser,
    session: ReadSessionDep,
    status_filter: Annotated[
        list[ScheduledStatus] | None,
        Query(alias="status", description="Repeat for several; default SCHEDULED"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> ScheduledMessagePage:
    """The caller's scheduled messages, soonest first (only SCHEDULED unless `status=`)."""
    return await actions.list_scheduled(
        session,
        user_id=user.id,
        statuses=status_filter or [ScheduledStatus.SCHEDULED],
        limit=limit,
        cursor=cursor,
    )


@router.get(
    "/{scheduled_id}",
    response_model=ScheduledMessageOut,
    responses=error_responses(_ERRORS),
)
async def get_scheduled(
    scheduled_id: uuid.UUID, user: CurrentUser, session: ReadSessionDep
) -> ScheduledMessageOut:
    """One scheduled message of the caller's, in any status."""
    return await actions.get_scheduled(session, user_id=user.id, scheduled_id=scheduled_id)


@router.patch(
    "/{scheduled_id}",
    response_model=ScheduledMessageOut,
    responses=error_responses(
        {
            **_ERRORS,
            403: "PERMISSION_DENIED / CONVERSATION_READ_ONLY: the caller may no longer write",
            409: "SCHEDULED_MESSAGE_NOT_PENDING: already being sent, sent, failed or cancelled",
            422: "SCHEDULED_AT_INVALID (details.reason TOO_SOON | TOO_FAR), MESSAGE_TOO_LONG, "
            "VALIDATION_ERROR",
        }
    ),
)
async def edit_scheduled(
    scheduled_id: uuid.UUID, body: ScheduledMessageEdit, user: CurrentUser, session: SessionDep
) -> ScheduledMessageOut:
    """Change the content and/or the time of a message still SCHEDULED."""
    return await actions.edit_scheduled(
        session, user_id=user.id, scheduled_id=scheduled_id, data=body
    )


@router.delete(
    "/{scheduled_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(
        {
            **_ERRORS,
            409: "SCHEDULED_MESSAGE_NOT_PENDING: already being sent, sent or failed",
        }
    ),
)
async def cancel_scheduled(scheduled_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> None:
    """Cancel a scheduled message (CANCELLED; cancelling again is fine)."""
    await actions.cancel_scheduled(session, user_id=user.id, scheduled_id=scheduled_id)
