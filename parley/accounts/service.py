"""Accounts: registration, login, lookup and people search. The only writer of `users`."""

from __future__ import annotations

import asyncio
import math
import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from parley.accounts import deny_list
from parley.accounts.events import SESSION_REVOKED
from parley.accounts.models import RevokedToken, User
from parley.accounts.schemas import (
    RevocationReason,
    SessionRevokedEvent,
    TokenOut,
    UserOut,
    UserStatus,
)
from parley.accounts.throttle import auth_throttle
from parley.core import runtime
from parley.core.audit import AuditAction, record
from parley.core.cache import invalidate_after_commit
from parley.core.db import utcnow
from parley.core.errors import (
    InvalidCredentials,
    InvalidToken,
    RateLimited,
    ServiceUnavailable,
    UsernameTaken,
    UserNotFound,
    ValidationFailed,
)
from parley.core.events import emit_after_commit, token_room, user_room
from parley.core.pagination import decode_text_cursor, encode_text_cursor
from parley.core.schemas import Page
from parley.core.security import TokenClaims, hash_password, issue_token, verify_password


def _user_cache_key(user_id: uuid.UUID) -> str:
    return f"user:{user_id}"


async def sign_up(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    display_name: str | None,
    client_address: str,
) -> User:
    """Registration as clients ask for it: counted against the client address's limit."""
    await auth_throttle().count_attempt(client_address)
    user = await register_user(
        session, username=username, password=password, display_name=display_name
    )
    record(
        session,
        actor_id=user.id,
        action=AuditAction.ACCOUNT_REGISTERED,
        details={"ip": client_address, "username": user.username},
    )
    return user


async def register_user(
    session: AsyncSession, *, username: str, password: str, display_name: str | None
) -> User:
    """Create an account; usernames are unique ignoring case."""
    lowered = username.lower()
    shown = (display_name or username).strip()
    if not shown:
        raise ValidationFailed("displayName must not be blank", field="displayName")
    # Hash before the first query: the session holds no connection yet, and a connection
    # held while hashes queue would starve every other request (SQLite has one).
    password_hash = await hash_password(password)
    taken = await session.scalar(select(User.id).where(User.username_lower == lowered))
    if taken is not None:
        raise UsernameTaken(username=username)
    user = User(
        username=username,
        username_lower=lowered,
        display_name=shown,
        display_name_lower=shown.lower(),
        password_hash=password_hash,
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:
        # Two registrations raced past the check; the unique index decided.
        raise UsernameTaken(username=username) from None
    return user


async def authenticate(*, username: str, password: str) -> User:
    """The user whose username and password these are, or INVALID_CREDENTIALS."""
    # A short session of its own, closed before the hash is checked: a connection held while
    # logins queue for the hashing pool would starve every other request (SQLite has one).
    async with runtime.current().db.reads() as session:
        user = await session.scalar(select(User).where(User.username_lower == username.lower()))
    if not await verify_password(user.password_hash if user else None, password) or user is None:
        raise InvalidCredentials()
    return user


async def log_in(*, username: str, password: str, client_address: str) -> User:
    """`authenticate`, throttled per client address and per account (accounts/throttle.py):
    a locked account is refused before its password is checked, right or wrong."""
    throttle = auth_throttle()
    await throttle.count_attempt(client_address)
    try:
        await throttle.check_account(username)
    except RateLimited:
        await _record_login_failure(username, client_address, reason="account_locked")
        raise
    try:
        user = await authenticate(username=username, password=password)
    except InvalidCredentials:
        await throttle.count_failure(username)
        await _record_login_failure(username, client_address, reason="invalid_credentials")
        raise
    async with runtime.current().db.unit_of_work() as session:
        record(
            session,
            actor_id=user.id,
            action=AuditAction.LOGIN_SUCCEEDED,
            details={"ip": client_address},
        )
    return user


async def _record_login_failure(username: str, client_address: str, *, reason: str) -> None:
    """A refused login, in a transaction of its own (the request fails, the entry stays).
    The account it named is the entry's target when it exists; no actor is known."""
    async with runtime.current().db.reads() as reads:
        target = await reads.scalar(select(User.id).where(User.username_lower == username.lower()))
    async with runtime.current().db.unit_of_work() as session:
        record(
            session,
            actor_id=None,
            action=AuditAction.LOGIN_FAILED,
            target_user_id=target,
            # The name as typed (capped): an unknown name is the attempt's only trace.
            details={"ip": client_address, "username": username[:64], "reason": reason},
        )


async def log_out(session: AsyncSession, *, token: TokenClaims) -> None:
    """Revoke `token` until it expires, on every instance, and disconnect the sockets that
    connected with it (the user's other tokens go on)."""
    await _revoke(session, token, reason=RevocationReason.LOGGED_OUT)
    record(session, actor_id=token.user_id, action=AuditAction.SESSION_LOGGED_OUT)


async def refresh(session: AsyncSession, *, token: TokenClaims) -> TokenOut:
    """A new token for a valid one, which is revoked (rotation: each token refreshes once).

    The sockets of the old token are disconnected like a logout's: a socket lives no longer
    than the token it connected with, and the client reconnects with the new one."""
    if token.token_id is None:
        raise InvalidToken("This token cannot be refreshed: log in again")
    # Read on a connection of its own: the request's session must hold no connection while
    # the old token's sockets are disconnected, since their disconnect writes presence (on
    # SQLite's one writer that was a wait on itself until the pool timed out).
    async with runtime.current().db.reads() as reads:
        user = await get_user(reads, user_id=token.user_id)
    await _revoke(session, token, reason=RevocationReason.REFRESHED)
    record(session, actor_id=user.id, action=AuditAction.SESSION_REFRESHED)
    return token_for(user)


async def change_password(
    session: AsyncSession, *, user_id: uuid.UUID, current_password: str, new_password: str
) -> TokenOut:
    """Set a new password after checking the current one (throttled like a login), revoke
    every token of the user issued before, and return a token for the new generation."""
    # Hashing happens before the request session takes a connection (see register_user).
    await check_password(user_id=user_id, password=current_password)
    password_hash = await hash_password(new_password)
    changed = await _raise_generation(
        session,
        user_id=user_id,
        reason=RevocationReason.PASSWORD_CHANGED,
        password_hash=password_hash,
    )
    record(session, actor_id=user_id, action=AuditAction.PASSWORD_CHANGED)
    return token_for(changed)


async def log_out_everywhere(session: AsyncSession, *, user_id: uuid.UUID) -> None:
    """Revoke every token of the user (this one included) and disconnect all their sockets."""
    await _raise_generation(session, user_id=user_id, reason=RevocationReason.LOGGED_OUT_EVERYWHERE)
    record(session, actor_id=user_id, action=AuditAction.SESSIONS_REVOKED)


ERASED_DISPLAY_NAME = "Deleted user"
# Argon2 never produces this, so no password matches it.
UNUSABLE_PASSWORD_HASH = "!erased"


async def check_password(*, user_id: uuid.UUID, password: str) -> None:
    """INVALID_CREDENTIALS unless `password` is the user's (throttled like a login): the
    confirmation a password change or an erasure asks for."""
    async with runtime.current().db.reads() as reads:
        user = await reads.get(User, user_id)
    if user is None:
        raise InvalidToken("The token's user no longer exists")
    throttle = auth_throttle()
    await throttle.check_account(user.username)
    if not await verify_password(user.password_hash, password):
        await throttle.count_failure(user.username)
        raise InvalidCredentials("The password is wrong")


async def find_user_id(session: AsyncSession, *, username: str) -> uuid.UUID:
    """The id of the user with this username (any case), or USER_NOT_FOUND."""
    found = await session.scalar(select(User.id).where(User.username_lower == username.lower()))
    if found is None:
        raise UserNotFound(username=username)
    return found


async def erase_profile(session: AsyncSession, *, user_id: uuid.UUID) -> None:
    """Replace the profile with a pseudonymous tombstone (erasure): a random placeholder
    username (the old one is free again), "Deleted user", a password no input matches, and
    every token revoked with the user's sockets closed after commit."""
    placeholder = f"deleted_{secrets.token_hex(8)}"
    await _raise_generation(
        session,
        user_id=user_id,
        reason=RevocationReason.ACCOUNT_ERASED,
        extra={
            "username": placeholder,
            "username_lower": placeholder,
            "display_name": ERASED_DISPLAY_NAME,
            "display_name_lower": ERASED_DISPLAY_NAME.lower(),
            "password_hash": UNUSABLE_PASSWORD_HASH,
            "status": UserStatus.OFFLINE,
            "last_seen_at": None,
        },
    )


async def _revoke(session: AsyncSession, token: TokenClaims, *, reason: RevocationReason) -> None:
    """Deny-list one token until it expires (in the store: Redis, so every instance, when
    REDIS_URL is set; and in the database, which a restart of the in-process store and a
    Redis outage fall back on), then, after the request's commit, disconnect its sockets on
    every instance (the session holds no connection by then, which the sockets' presence
    writes need on SQLite's one writer)."""
    if token.token_id is None:
        return  # issued before tokens carried an id: it can only expire
    store = runtime.current().store  # never evicted: a revoked token must stay revoked
    ttl = max(1, math.ceil(token.expires_at - time.time()))
    # Set only if absent (SET NX in Redis): of two requests revoking the same token at once
    # (two refreshes racing), exactly one goes on, so a token is rotated once.
    added = await store.add(deny_list.revoked_key(token.token_id), True, ttl)
    if added is None:
        raise ServiceUnavailable("The token could not be revoked: try again")
    if not added:
        raise InvalidToken("The token was revoked: log in again")
    # Committed with the request's audit entry (if the commit fails, the store's entry only
    # refuses a token early, which the client was ending anyway).
    session.add(
        RevokedToken(
            token_id=token.token_id, expires_at=datetime.fromtimestamp(token.expires_at, UTC)
        )
    )
    emit_after_commit(
        session,
        SESSION_REVOKED,
        SessionRevokedEvent(reason=reason),
        rooms=[token_room(token.token_id)],
    )


async def _raise_generation(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    reason: RevocationReason,
    password_hash: str | None = None,
    extra: dict[str, object] | None = None,
) -> User:
    """Raise the user's token generation (and set the password): every token issued before
    is refused from the commit on, on every instance (the cached generation is dropped after
    the commit), and the user's sockets are then disconnected on every instance."""
    values: dict[str, object] = {"token_generation": User.token_generation + 1}
    if password_hash is not None:
        values["password_hash"] = password_hash
    values.update(extra or {})
    result = await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(**values)
        .returning(User)
        .execution_options(synchronize_session=False)
    )
    user = result.scalar_one_or_none()
    if user is None:
        raise InvalidToken("The token's user no longer exists")
    # In this order after the commit: the stale generation leaves the cache first, so a
    # socket reconnecting once it is cut off is checked against the new one.
    invalidate_after_commit(session, _user_cache_key(user_id))
    emit_after_commit(
        session, SESSION_REVOKED, SessionRevokedEvent(reason=reason), rooms=[user_room(user_id)]
    )
    return user


def token_for(user: User) -> TokenOut:
    settings = runtime.current().settings
    token = issue_token(
        user.id,
        secret=settings.jwt_secret,
        expires_in_seconds=settings.jwt_expires_in_seconds,
        generation=user.token_generation,
    )
    return TokenOut(
        access_token=token,
        expires_in=settings.jwt_expires_in_seconds,
        user=UserOut.model_validate(user),
    )


async def get_user(session: AsyncSession, *, user_id: uuid.UUID) -> User:
    """One user by id, or USER_NOT_FOUND."""
    user = await session.get(User, user_id)
    if user is None:
        raise UserNotFound(userId=str(user_id))
    return user


async def get_public_user_cached(
    user_id: uuid.UUID, *, token: TokenClaims | None = None
) -> UserOut | None:
    """A user's public fields from the cache, loading them on a miss (None: no such user).

    With `token`, INVALID_TOKEN if that token was revoked: its id is on the deny-list (read in
    the same round trip) or it is older than the user's token generation (cached with the
    user, so checking it costs nothing more)."""
    rt = runtime.current()
    key = _user_cache_key(user_id)
    is_revoked = False
    if token is None or token.token_id is None:
        cached = await rt.cache.get(key)
    elif rt.store is rt.cache:  # one Redis (the usual case): one round trip for all
        is_revoked, (cached,) = await deny_list.revoked_reading(rt.store, token.token_id, [key])
    else:
        cached, (is_revoked, _) = await asyncio.gather(
            rt.cache.get(key), deny_list.revoked_reading(rt.store, token.token_id, [])
        )
    if is_revoked:
        raise InvalidToken("The token was revoked: log in again")
    if cached is not None and _GENERATION in cached:
        known = _CachedUser(UserOut.model_validate(cached), int(cached[_GENERATION]))
    else:
        known_or_none = await _load_once(user_id)
        if known_or_none is None:
            return None
        known = known_or_none
    if token is not None and token.generation < known.token_generation:
        raise InvalidToken("The token was revoked: log in again")
    return known.user


@dataclass(frozen=True)
class _CachedUser:
    user: UserOut
    token_generation: int


# The cached entry is the public fields plus this key (UserOut ignores it).
_GENERATION = "tokenGeneration"


async def _load_once(user_id: uuid.UUID) -> _CachedUser | None:
    # One load per user at a time: a user's sockets reconnect together (after a deploy or
    # a network cut), and each would otherwise miss and query.
    loading = _user_loads.get(user_id)
    if loading is None:
        loading = asyncio.ensure_future(_load_public_user(user_id))
        _user_loads[user_id] = loading
        loading.add_done_callback(_load_finished(user_id))
    return await asyncio.shield(loading)


_user_loads: dict[uuid.UUID, asyncio.Future[_CachedUser | None]] = {}


def _load_finished(user_id: uuid.UUID) -> Callable[[asyncio.Future[_CachedUser | None]], None]:
    def finished(loading: asyncio.Future[_CachedUser | None]) -> None:
        _user_loads.pop(user_id, None)
        if not loading.cancelled():
            loading.exception()  # retrieved: its waiters, if any are left, raise it

    return finished


async def _load_public_user(user_id: uuid.UUID) -> _CachedUser | None:
    rt = runtime.current()
    async with rt.db.reads() as session:
        user = await session.get(User, user_id)
        if user is None:
            return None
        known = _CachedUser(UserOut.model_validate(user), user.token_generation)
    entry = known.user.model_dump(mode="json") | {_GENERATION: known.token_generation}
    await rt.cache.set(_user_cache_key(user_id), entry, rt.settings.cache_ttl_seconds)
    return known


async def get_users_by_ids(session: AsyncSession, *, user_ids: Iterable[uuid.UUID]) -> list[User]:
    """The users that exist among `user_ids` (in no particular order)."""
    wanted = list(set(user_ids))
    if not wanted:
        return []
    return list((await session.scalars(select(User).where(User.id.in_(wanted)))).all())


async def find_user_ids_by_usernames(
    session: AsyncSession, *, usernames: Iterable[str]
) -> dict[str, uuid.UUID]:
    """Lower-cased username -> id, for the usernames that exist (mentions)."""
    lowered = sorted({name.lower() for name in usernames})
    if not lowered:
        return {}
    rows = await session.execute(
        select(User.username_lower, User.id).where(User.username_lower.in_(lowered))
    )
    return {name: user_id for name, user_id in rows}


async def set_presence(
    session: AsyncSession, *, user_id: uuid.UUID, online: bool
) -> UserOut | None:
    """Flip a user's status if it is not already so; the user as now, or None if unchanged.

    A guarded UPDATE: when several instances race to announce the same change, one wins.
    """
    now = utcnow()
    values: dict[str, object] = {"status": UserStatus.ONLINE if online else UserStatus.OFFLINE}
    if not online:
        values["last_seen_at"] = now
    result = await session.execute(
        update(User)
        .where(
            User.id == user_id, User.status == (UserStatus.OFFLINE if online else UserStatus.ONLINE)
        )
        .values(**values)
        .returning(User)
        .execution_options(synchronize_session=False)
    )
    changed = result.scalar_one_or_none()
    if changed is None:
        return None
    invalidate_after_commit(session, _user_cache_key(user_id))
    return UserOut.model_validate(changed)


async def mark_everyone_offline(session: AsyncSession) -> None:
    """Embedded mode starts with no sockets: nobody can be online."""
    await session.execute(
        update(User)
        .where(User.status == UserStatus.ONLINE)
        .values(status=UserStatus.OFFLINE, last_seen_at=utcnow())
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def search_users(
    session: AsyncSession, *, query: str, limit: int, cursor: str | None
) -> Page[UserOut]:
    """People whose username or display name starts with `query`, by username."""
    if "\x00" in query:
        raise ValidationFailed("q must not contain NUL characters", field="q")
    term = query.strip().lower()
    if not term:
        raise ValidationFailed("q must not be blank", field="q")
    prefix = _escape_like(term) + "%"
    statement = (
        select(User)
        .where(
            or_(
                User.username_lower.like(prefix, escape="\\"),
                User.display_name_lower.like(prefix, escape="\\"),
            )
        )
        .order_by(User.username_lower)
        .limit(limit + 1)
    )
    if cursor is not None:
        statement = statement.where(User.username_lower > decode_text_cursor(cursor))
    users = list((await session.scalars(statement)).all())
    more = len(users) > limit
    users = users[:limit]
    return Page[UserOut](
        items=[UserOut.model_validate(user) for user in users],
        next_cursor=encode_text_cursor(users[-1].username_lower) if more else None,
    )
