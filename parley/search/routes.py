"""HTTP route for message search. Registered before the messages router (main.py), whose
`GET /messages/{id}` would otherwise take `/messages/search` for a message id."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from parley.accounts.dependencies import CallerReads, CurrentUser
from parley.core.schemas import ClientTimestamp, error_responses
from parley.search.queries import SearchFilters, search_messages
from parley.search.schemas import SearchPage

router = APIRouter(prefix="/messages", tags=["search"])

_ERRORS = error_responses(
    {
        401: "UNAUTHORIZED: no valid token",
        404: "CONVERSATION_NOT_FOUND: conversationId is not one the caller reads",
        422: "VALIDATION_ERROR: q empty or over 200 characters after trimming, a bad uuid, "
        "date, hashtag, mention, limit or cursor (details.errors[].field)",
    }
)


@router.get("/search", response_model=SearchPage, responses=_ERRORS)
async def search(
    user: CurrentUser,
    reads: CallerReads,
    q: Annotated[str, Query(max_length=1000, description="Words to find (1-200 characters)")],
    conversation_id: Annotated[uuid.UUID | None, Query(alias="conversationId")] = None,
    sender_id: Annotated[uuid.UUID | None, Query(alias="senderId")] = None,
    since: Annotated[
        ClientTimestamp | None,
        Query(alias="from", description="serverTimestamp at or after (ISO-8601; naive = UTC)"),
    ] = None,
    until: Annotated[
        ClientTimestamp | None,
        Query(alias="to", description="serverTimestamp before (ISO-8601; naive = UTC)"),
    ] = None,
    hashtag: Annotated[str | None, Query(max_length=101, description="`#` optional")] = None,
    mention: Annotated[str | None, Query(max_length=65, description="A username")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> SearchPage:
    """Messages the caller reads now containing every word of `q` (the last word also as a
    prefix), best match first, each with an HTML-safe `snippet`."""
    filters = SearchFilters(
        conversation_id=conversation_id,
        sender_id=sender_id,
        since=since,
        until=until,
        hashtag=hashtag,
        mention=mention,
    )
    return await reads(
        lambda session: search_messages(
            session, user_id=user.id, query=q, filters=filters, limit=limit, cursor=cursor
        )
    )
