"""HTTP routes for accounts: /auth/* and /users."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from parley.accounts import service
from parley.accounts.dependencies import CurrentUser
from parley.accounts.schemas import LoginRequest, RegisterRequest, TokenOut, UserOut
from parley.core.deps import SessionDep
from parley.core.schemas import Page

router = APIRouter(tags=["accounts"])


@router.post("/auth/register", status_code=status.HTTP_201_CREATED, response_model=TokenOut)
async def register(body: RegisterRequest, session: SessionDep) -> TokenOut:
    """Create an account and log it in."""
    user = await service.register_user(
        session, username=body.username, password=body.password, display_name=body.display_name
    )
    return service.token_for(user)


@router.post("/auth/login", response_model=TokenOut)
async def login(body: LoginRequest, session: SessionDep) -> TokenOut:
    user = await service.authenticate(session, username=body.username, password=body.password)
    return service.token_for(user)


@router.get("/users/me", response_model=UserOut)
async def me(user: CurrentUser, session: SessionDep) -> UserOut:
    return UserOut.model_validate(await service.get_user(session, user_id=user.id))


@router.get("/users", response_model=Page[UserOut])
async def find_users(
    user: CurrentUser,
    session: SessionDep,
    q: Annotated[str, Query(min_length=1, max_length=64, description="Username or name prefix")],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[UserOut]:
    """Find people by username or display-name prefix (public fields only)."""
    return await service.search_users(session, query=q, limit=limit, cursor=cursor)
