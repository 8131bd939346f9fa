"""HTTP route for a conversation's analytics."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from parley.accounts.dependencies import CallerReads, CurrentUser
from parley.analytics import queries
from parley.analytics.schemas import AnalyticsOut
from parley.core.schemas import error_responses

router = APIRouter(tags=["analytics"])


@router.get(
    "/conversations/{conversation_id}/analytics",
    response_model=AnalyticsOut,
    responses=error_responses(
        {
            401: "UNAUTHORIZED: no valid token",
            403: "PERMISSION_DENIED: only the owner and admins read analytics",
            404: "CONVERSATION_NOT_FOUND: no such conversation, or the caller is not a member",
            422: "VALIDATION_ERROR: a bad date, `from` after `to`, or more than 366 days",
        }
    ),
)
async def get_analytics(
    conversation_id: uuid.UUID,
    user: CurrentUser,
    reads: CallerReads,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
) -> AnalyticsOut:
    """Messages and active members per UTC day, first-response median, top reactions and
    hashtags, read rate (`docs/api.md`, "Analytics"); the last 30 days by default."""
    return await reads(
        lambda session: queries.conversation_analytics(
            session, caller_id=user.id, conversation_id=conversation_id, start=start, end=end
        )
    )
