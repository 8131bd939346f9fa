"""HTTP route for finding people: presence is told only to those who share a conversation,
so the search, which anyone may run, shows it to them and to nobody else."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from parley.accounts.dependencies import CurrentUser
from parley.core.deps import ReadSessionDep
from parley.core.schemas import Page
from parley.presence.queries import find_people
from parley.presence.schemas import FoundUser

router = APIRouter(tags=["accounts"])


@router.get("/users", response_model=Page[FoundUser])
async def find_users(
    user: CurrentUser,
    session: ReadSessionDep,
    q: Annotated[str, Query(min_length=1, max_length=64, description="Username or name prefix")],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[FoundUser]:
    """Find people by username or display-name prefix (public fields; presence only of
    oneself and people who share a conversation with the caller)."""
    return await find_people(session, user_id=user.id, query=q, limit=limit, cursor=cursor)
