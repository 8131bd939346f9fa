"""HTTP route for the audit trail."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from parley.accounts.dependencies import CurrentUser
from parley.audit import queries
from parley.audit.schemas import AuditEntryOut
from parley.core.deps import ReadSessionDep
from parley.core.schemas import Page

router = APIRouter(tags=["audit"])


@router.get("/audit", response_model=Page[AuditEntryOut])
async def list_audit(
    user: CurrentUser,
    session: ReadSessionDep,
    conversation_id: Annotated[uuid.UUID | None, Query(alias="conversationId")] = None,
    actor_id: Annotated[uuid.UUID | None, Query(alias="actorId")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
) -> Page[AuditEntryOut]:
    """A conversation's audit trail (owner and admins), or the caller's own actions."""
    return await queries.list_entries(
        session,
        caller_id=user.id,
        conversation_id=conversation_id,
        actor_id=actor_id,
        limit=limit,
        cursor=cursor,
    )
