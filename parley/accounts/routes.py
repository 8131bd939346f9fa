"""HTTP routes for accounts: /auth/* and /users/me (finding people is presence/routes.py)."""

from __future__ import annotations

from fastapi import APIRouter, status

from parley.accounts import service
from parley.accounts.dependencies import CurrentUser
from parley.accounts.schemas import LoginRequest, RegisterRequest, TokenOut, UserOut
from parley.core.deps import SessionDep

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
