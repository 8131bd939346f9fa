"""HTTP routes for accounts: /auth/* and /users/me (finding people is presence/routes.py)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from parley.accounts import service
from parley.accounts.dependencies import ClientAddress, CurrentToken, CurrentUser
from parley.accounts.schemas import LoginRequest, RegisterRequest, TokenOut, UserOut
from parley.core.deps import ReadSessionDep, SessionDep

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
async def me(user: CurrentUser, session: ReadSessionDep) -> UserOut:
    return UserOut.model_validate(await service.get_user(session, user_id=user.id))
