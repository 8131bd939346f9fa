"""`CurrentUser`: the caller, from a strictly checked bearer token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from parley.accounts.schemas import UserOut
from parley.accounts.service import get_public_user_cached
from parley.core import runtime
from parley.core.errors import InvalidToken, Unauthorized
from parley.core.security import read_token

_bearer = HTTPBearer(auto_error=False, description="JWT from POST /auth/login")


async def authenticate_token(token: str) -> UserOut:
    """The user a token belongs to; shared by HTTP and the socket gateway."""
    user_id = read_token(token, secret=runtime.current().settings.jwt_secret)
    user = await get_public_user_cached(user_id)
    if user is None:
        raise InvalidToken("The token's user no longer exists")
    return user


async def _current_user(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> UserOut:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized()
    return await authenticate_token(credentials.credentials)


CurrentUser = Annotated[UserOut, Depends(_current_user)]
