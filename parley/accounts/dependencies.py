"""`CurrentUser`: the caller, from a strictly checked bearer token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from parley.accounts.schemas import UserOut
from parley.accounts.service import get_public_user_cached
from parley.core import runtime
from parley.core.deps import UserReads
from parley.core.errors import InvalidToken, Unauthorized
from parley.core.replica import acting_user
from parley.core.security import TokenClaims, read_token_claims

_bearer = HTTPBearer(auto_error=False, description="JWT from POST /auth/login")


async def authenticate_token(token: str) -> UserOut:
    """The user a token belongs to; shared by HTTP and the socket gateway."""
    return (await authenticate_token_until(token))[0]


async def authenticate_token_until(token: str) -> tuple[UserOut, TokenClaims]:
    """`authenticate_token`, and the token's claims: a socket lives no longer than the token
    it connected with (its expiry, or its revocation)."""
    claims = read_token_claims(token, secret=runtime.current().settings.jwt_secret)
    user = await get_public_user_cached(claims.user_id, token=claims)
    if user is None:
        raise InvalidToken("The token's user no longer exists")
    return user, claims


async def _current_user(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> UserOut:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized()
    user = await authenticate_token(credentials.credentials)
    # What this request commits is the caller's write: they read it back from the primary
    # until a read replica has it (core/replica.py).
    acting_user.set(user.id)
    return user


CurrentUser = Annotated[UserOut, Depends(_current_user)]


async def _caller_reads(user: CurrentUser) -> UserReads:
    return UserReads(user.id)


CallerReads = Annotated[UserReads, Depends(_caller_reads)]
"""Runs a read the read replica may serve (history, search, analytics, export) where it is
fresh enough for the caller: `await reads(lambda session: queries.x(session, ...))`."""


async def _current_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> TokenClaims:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized()
    return (await authenticate_token_until(credentials.credentials))[1]


CurrentToken = Annotated[TokenClaims, Depends(_current_token)]
"""The claims of the caller's (valid, unrevoked) token."""


def _client_address(request: Request) -> str:
    """The peer's address. `parley serve` has uvicorn put the first untrusted hop of
    X-Forwarded-For here when, and only when, the peer is in TRUSTED_PROXIES."""
    return request.client.host if request.client is not None else "unknown"


ClientAddress = Annotated[str, Depends(_client_address)]
