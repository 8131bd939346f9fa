"""HTTP routes for accounts: /auth/* and /users/me (finding people is presence/routes.py)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from parley.accounts import service
from parley.accounts.dependencies import ClientAddress, CurrentToken, CurrentUser
from parley.accounts.schemas import (
    LoginRequest,
    PasswordChangeRequest,
    RegisterRequest,
    TokenOut,
    UserOut,
)
from parley.core.deps import ReadSessionDep, SessionDep
from parley.core.schemas import error_responses

router = APIRouter(tags=["accounts"])

_TOKEN_ERRORS = {
    401: "UNAUTHORIZED (no token), INVALID_TOKEN (bad, revoked or older than the last "
    "password change), TOKEN_EXPIRED",
    503: "SERVICE_UNAVAILABLE: the revocation could not be stored (Redis down); try again",
}


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


@router.post(
    "/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(_TOKEN_ERRORS),
)
async def logout(token: CurrentToken, session: SessionDep) -> Response:
    """Revoke the presented token until it expires; its sockets are disconnected."""
    await service.log_out(session, token=token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/auth/refresh", response_model=TokenOut, responses=error_responses(_TOKEN_ERRORS))
async def refresh(token: CurrentToken, session: SessionDep) -> TokenOut:
    """A new token for a valid one, which is revoked (each token refreshes once)."""
    return await service.refresh(session, token=token)


@router.post(
    "/auth/logout-all",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses({401: _TOKEN_ERRORS[401]}),
)
async def logout_all(token: CurrentToken, session: SessionDep) -> Response:
    """Revoke every token of the caller (this one too); all their sockets are disconnected."""
    await service.log_out_everywhere(session, user_id=token.user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/users/me/password",
    response_model=TokenOut,
    responses=error_responses(
        {
            401: "INVALID_CREDENTIALS (the current password is wrong), or the token's codes: "
            + _TOKEN_ERRORS[401],
            422: "VALIDATION_ERROR: newPassword shorter than 8 or longer than 256 characters",
            429: "RATE_LIMITED: too many failed attempts for this account (as for logins)",
        }
    ),
)
async def change_password(
    body: PasswordChangeRequest, token: CurrentToken, session: SessionDep
) -> TokenOut:
    """Change the password; every older token is revoked, and a new one is returned."""
    return await service.change_password(
        session,
        user_id=token.user_id,
        current_password=body.current_password,
        new_password=body.new_password,
    )


@router.get("/users/me", response_model=UserOut)
async def me(user: CurrentUser, session: ReadSessionDep) -> UserOut:
    return UserOut.model_validate(await service.get_user(session, user_id=user.id))
