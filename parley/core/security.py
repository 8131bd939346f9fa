"""Password hashing (argon2) and access tokens (JWT, HS256 only)."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

import jwt
from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from parley.core.db import utcnow
from parley.core.errors import InvalidToken, TokenExpired

ALGORITHM = "HS256"
_hasher = PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY)
# Verifying against this keeps the time of a login for an unknown user close to a real one;
# made on first use (and again for another profile), so only a process that logs in pays it.
_dummy_hash: str | None = None


def install_password_profile(name: str) -> None:
    """New hashes use argon2-cffi's profile `name` (PASSWORD_HASH_PROFILE); existing hashes
    carry their own parameters and verify as before."""
    global _hasher, _dummy_hash
    _hasher = PasswordHasher.from_parameters(getattr(profiles, name))
    _dummy_hash = None


def _timing_equaliser() -> str:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("parley-timing-equaliser")
    return _dummy_hash


# argon2 is deliberately slow (and releases the GIL): run it off the event loop, on a pool
# that leaves a core to the loop. With asyncio's default executor (cores + 4 threads), a
# burst of logins ran six hashes at once on two cores and every other request waited for CPU.
HASH_WORKERS = max(1, (os.cpu_count() or 2) - 1)
_hashing = ThreadPoolExecutor(max_workers=HASH_WORKERS, thread_name_prefix="parley-argon2")

ResultT = TypeVar("ResultT")


async def _in_hashing_pool(work: Callable[[], ResultT]) -> ResultT:
    return await asyncio.get_running_loop().run_in_executor(_hashing, work)


async def hash_password(password: str) -> str:
    return await _in_hashing_pool(lambda: _hasher.hash(password))


async def verify_password(password_hash: str | None, password: str) -> bool:
    def _verify() -> bool:
        try:
            return _hasher.verify(password_hash or _timing_equaliser(), password) and bool(
                password_hash
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    return await _in_hashing_pool(_verify)


def issue_token(
    user_id: uuid.UUID, *, secret: str, expires_in_seconds: int, generation: int = 0
) -> str:
    """A signed token; `generation` is the user's token generation as it is issued: raising
    the user's generation (password change, logout everywhere) revokes every older token."""
    now = utcnow()
    claims = {
        "sub": str(user_id),
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=expires_in_seconds)).timestamp()),
        # Names this token alone, so it can be revoked (POST /auth/logout) until it expires.
        "jti": uuid.uuid4().hex,
        "gen": generation,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


@dataclass(frozen=True)
class TokenClaims:
    user_id: uuid.UUID
    expires_at: float  # epoch seconds
    token_id: str | None  # `jti`; None for tokens issued before tokens carried one
    generation: int = 0  # `gen`; 0 for tokens issued before tokens carried one


def read_token(token: str, *, secret: str) -> uuid.UUID:
    """The user id a token was issued to; `alg: none`, other algorithms and bad keys fail."""
    return read_token_claims(token, secret=secret).user_id


def read_token_claims(token: str, *, secret: str) -> TokenClaims:
    """`read_token`, with when the token expires and its id.

    A token verified once is remembered until it expires: clients send the same token with
    every request, and checking the signature each time is a measurable share of a request.
    """
    remembered = _verified.get(token)
    if remembered is not None:
        if remembered.expires_at > time.time():
            return remembered
        del _verified[token]
        raise TokenExpired()
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]}
        )
    except jwt.ExpiredSignatureError:
        raise TokenExpired() from None
    except jwt.PyJWTError as error:
        raise InvalidToken(f"The token is not valid: {error}") from None
    try:
        user_id = uuid.UUID(str(claims["sub"]))
    except ValueError:
        raise InvalidToken("The token's subject is not a user id") from None
    if len(_verified) >= _VERIFIED_MAX:
        _verified.clear()
    token_id = claims.get("jti")
    generation = claims.get("gen", 0)
    if not isinstance(generation, int) or isinstance(generation, bool):
        raise InvalidToken("The token's generation is not an integer")
    verified = TokenClaims(
        user_id=user_id,
        expires_at=float(claims["exp"]),
        token_id=str(token_id) if token_id is not None else None,
        generation=generation,
    )
    _verified[token] = verified
    return verified


# Keyed by the whole token string, so a token is trusted only if these exact bytes verified.
# The secret is fixed for the process's life, so the entries cannot go stale.
_verified: dict[str, TokenClaims] = {}
_VERIFIED_MAX = 100_000
