"""HTTP routes for accounts: /auth/* and /users."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from parley.accounts import service
from parley.accounts.dependencies import ClientAddress, CurrentToken, CurrentUser
from parley.accounts.schemas import LoginRequest, RegisterRequest, TokenOut, UserOut
from parley.core.deps import SessionDep
from parley.core.schemas import Page

router = APIRouter(tags=["accounts"])


@router.post("/auth/register", status_code=status.HTTP_201_CREATED, response_model=TokenOut)
async def register(body: RegisterRequest, session: SessionDep, address: ClientAddress) -> TokenOut:
    """Create an account and log it in (throttled per client address)."""
    user = await service.sign_up(
        session,
        username=body.username,
        password=body.password,
        display_name=body.display_name,
        client_address=address,
    )
    return service.token_for(user)


@router.post("/auth/login", response_model=TokenOut)
async def login(body: LoginRequest, address: ClientAddress) -> TokenOut:
    """Log in; throttled per client address and per account (429 RATE_LIMITED)."""
    user = await service.log_in(
        username=body.username, password=body.password, client_address=address
    )
    return service.token_for(user)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(token: CurrentToken) -> Response:
    """Revoke the presented token until it expires; its sockets are disconnected."""
    await service.log_out(token=token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


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
