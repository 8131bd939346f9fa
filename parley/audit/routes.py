"""HTTP route for the audit trail."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from parley.accounts.dependencies import CurrentUser
from parley.audit import queries
from parley.audit.schemas import AuditEntryOut
from parley.core.deps import ReadSessionDep
from parley.core.schemas import ClientTimestamp, Page, error_responses

router = APIRouter(tags=["audit"])


@router.get(
    "/audit",
    response_model=Page[AuditEntryOut],
    responses=error_responses(
        {
            403: "PERMISSION_DENIED: conversationId given, and the caller is a member below "
            "admin (VIEW_AUDIT)",
            404: "CONVERSATION_NOT_FOUND: conversationId names no conversation the caller is in",
            422: "VALIDATION_ERROR: an unknown action, a bad time or cursor, from not before to",
        }
    ),
)
async def list_audit(
    user: CurrentUser,
    session: ReadSessionDep,
    conversation_id: Annotated[uuid.UUID | None, Query(alias="conversationId")] = None,
    actor_id: Annotated[uuid.UUID | None, Query(alias="actorId")] = None,
    action: Annotated[
        list[str] | None,
        Query(description="One or several actions (repeat, or comma-separated)", max_length=20),
    ] = None,
    start: Annotated[
        ClientTimestamp | None,
        Query(alias="from", description="createdAt at or after (ISO-8601; naive = UTC)"),
    ] = None,
    end: Annotated[
        ClientTimestamp | None,
        Query(alias="to", description="createdAt before (ISO-8601; naive = UTC)"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
) -> Page[AuditEntryOut]:
    """A conversation's audit trail (owner and admins), or without conversationId the
    entries about the caller (as actor or target); newest first."""
    filters = queries.AuditFilters(
        conversation_id=conversation_id,
        actor_id=actor_id,
        actions=queries.parse_actions(action or []),
        start=start,
        end=end,
    )
    return await queries.list_entries(
        session, caller_id=user.id, filters=filters, limit=limit, cursor=cursor
    )
