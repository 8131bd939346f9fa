"""Rate limits, counted in Redis (shared by every instance) or in process without it.

The `limits` library does the counting with its sliding-window counter: close to a true
moving window (no double burst at a window edge) for two keys per limit. Two scopes guard
sending: CONVERSATION (per user per conversation per minute: the conversation's `rateLimit`, or
`RATE_LIMIT_MESSAGES`) and USER (per user per hour, `RATE_LIMIT_MESSAGES_PER_HOUR`). Edits and
reactions have scopes of their own, per user per conversation per minute: EDITS
(`RATE_LIMIT_EDITS`) and REACTIONS (`RATE_LIMIT_REACTIONS`, adding and taking back alike);
REPORT guards message reports (per user per hour, `RATE_LIMIT_REPORTS_PER_HOUR`) and UPLOADS
attachment uploads (per user per hour, `RATE_LIMIT_UPLOADS_PER_HOUR`). A refusal
raises `RateLimited` (429 with Retry-After) and tells the user's sockets with
`rate_limit.exceeded`, so every open tab can show it.
"""

from __future__ import annotations

import logging
import math
import time
import uuid

from limits import RateLimitItem, RateLimitItemPerHour, RateLimitItemPerMinute
from limits.errors import StorageError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from parley.core import metrics, runtime
from parley.core.config import Settings
from parley.core.errors import RateLimited
from parley.core.events import emit, user_room
from parley.core.limits import LimitChain, sliding_window_limiter
from parley.ratelimit.events import RATE_LIMIT_EXCEEDED
from parley.ratelimit.schemas import RateLimitExceededEvent, Scope

log = logging.getLogger(__name__)


class RateLimiter:
    """The process's limiter; one Redis round trip (a Lua script) per check: a send's two
    limits are one chain."""

    def __init__(self, settings: Settings, redis: Redis | None) -> None:
        self._settings = settings
        self._limiter = sliding_window_limiter(settings, redis)
        self._chain = LimitChain(self._limiter, redis)
        self._per_hour = RateLimitItemPerHour(settings.rate_limit_messages_per_hour)
        self._reports_per_hour = RateLimitItemPerHour(settings.rate_limit_reports_per_hour)
        self._uploads_per_hour = RateLimitItemPerHour(settings.rate_limit_uploads_per_hour)
        self._exports_per_hour = RateLimitItemPerHour(settings.rate_limit_exports_per_hour)
        self._per_conversation_of: dict[Scope, RateLimitItem] = {
            Scope.EDITS: RateLimitItemPerMinute(settings.rate_limit_edits),
            Scope.REACTIONS: RateLimitItemPerMinute(settings.rate_limit_reactions),
        }

    async def check_send(
        self, *, user_id: uuid.UUID, conversation_id: uuid.UUID, per_minute: int | None
    ) -> None:
        """Count one message; raise `RateLimited` when either scope is spent."""
        per_conversation = RateLimitItemPerMinute(per_minute or self._settings.rate_limit_messages)
        user, conversation = str(user_id), str(conversation_id)
        # In this order: a send the conversation refuses does not use the hour's allowance.
        refused = await self._hit_chain(
            (per_conversation, ("messages", user, conversation)),
            (self._per_hour, ("messages", user)),
        )
        if refused == 0:
            await self._refuse(
                Scope.CONVERSATION,
                per_conversation,
                (user, conversation),
                user_id=user_id,
                conversation_id=conversation_id,
            )
        if refused == 1:
            await self._refuse(Scope.USER, self._per_hour, (user,), user_id=user_id)

    async def check_report(self, *, user_id: uuid.UUID) -> None:
        """Count one message report; raise `RateLimited` past the hour's allowance."""
        item, user = self._reports_per_hour, str(user_id)
        if not await self._hit(item, "reports", user):
            await self._refuse(Scope.REPORT, item, (user,), user_id=user_id, namespace="reports")

    async def check_upload(self, *, user_id: uuid.UUID) -> None:
        """Count one attachment upload; raise `RateLimited` past the hour's allowance."""
        item, user = self._uploads_per_hour, str(user_id)
        if not await self._hit(item, "uploads", user):
            await self._refuse(Scope.UPLOADS, item, (user,), user_id=user_id, namespace="uploads")

    async def check_export(self, *, user_id: uuid.UUID) -> None:
        """Count one export started; raise `RateLimited` past the hour's allowance (each
        export reads everything the user ever wrote)."""
        item, user = self._exports_per_hour, str(user_id)
        if not await self._hit(item, "exports", user):
            await self._refuse(Scope.EXPORTS, item, (user,), user_id=user_id, namespace="exports")

    async def check_edit(self, *, user_id: uuid.UUID, conversation_id: uuid.UUID) -> None:
        """Count one edit; raise `RateLimited` when the EDITS scope is spent."""
        await self._check_per_conversation(Scope.EDITS, user_id, conversation_id)

    async def check_reaction(self, *, user_id: uuid.UUID, conversation_id: uuid.UUID) -> None:
        """Count one reaction added or taken back; raise `RateLimited` when REACTIONS is spent."""
        await self._check_per_conversation(Scope.REACTIONS, user_id, conversation_id)

    async def _check_per_conversation(
        self, scope: Scope, user_id: uuid.UUID, conversation_id: uuid.UUID
    ) -> None:
        item = self._per_conversation_of[scope]
        identifiers = (str(user_id), str(conversation_id))
        namespace = scope.lower()
        if not await self._hit(item, namespace, *identifiers):
            await self._refuse(
                scope,
                item,
                identifiers,
                user_id=user_id,
                conversation_id=conversation_id,
                namespace=namespace,
            )

    async def _hit(self, item: RateLimitItem, *identifiers: str) -> bool:
        return await self._hit_chain((item, identifiers)) is None

    async def _hit_chain(self, *limits: tuple[RateLimitItem, tuple[str, ...]]) -> int | None:
        """The index of the limit that refused, None when all allowed (see `LimitChain`)."""
        try:
            return await self._chain.hit(*limits)
        except (RedisError, StorageError, OSError) as error:
            # Fail open: a Redis outage must not stop every conversation.
            log.warning("rate limit not checked: %s", error)
            return None

    async def _refuse(
        self,
        scope: Scope,
        item: RateLimitItem,
        identifiers: tuple[str, ...],
        *,
        user_id: uuid.UUID,
        conversation_id: uuid.UUID | None = None,
        namespace: str = "messages",
    ) -> None:
        metrics.rate_limit_refused(scope.lower())
        try:
            stats = await self._limiter.get_window_stats(item, namespace, *identifiers)
            retry_after = max(0.0, stats.reset_time - time.time())
        except (RedisError, StorageError, OSError):
            retry_after = float(item.get_expiry())
        # Never promise less than a moment: a client that retries at once is refused again.
        retry_after_ms = max(1000, math.ceil(retry_after * 1000))
        event = RateLimitExceededEvent(
            scope=scope,
            limit=item.amount,
            window_seconds=item.get_expiry(),
            retry_after_ms=retry_after_ms,
            conversation_id=conversation_id,
        )
        try:
            await emit(RATE_LIMIT_EXCEEDED, event, rooms=[user_room(user_id)])
        except Exception:  # the refusal stands even if the notice cannot be sent
            log.exception("rate_limit.exceeded not sent")
        details = event.model_dump(mode="json", by_alias=True, exclude_none=True)
        raise RateLimited(
            _message(scope, item),
            **details,
            retryAfterSeconds=math.ceil(retry_after_ms / 1000),
        )


def _message(scope: Scope, item: RateLimitItem) -> str:
    window = "minute" if item.get_expiry() == 60 else "hour"
    if scope == Scope.REPORT:
        return f"You may report {item.amount} messages per {window}"
    if scope == Scope.UPLOADS:
        return f"You may upload {item.amount} files per {window}"
    if scope == Scope.EXPORTS:
        return f"You may start {item.amount} exports per {window}"
    if scope == Scope.EDITS:
        return f"You may edit {item.amount} times per {window} in this conversation"
    if scope == Scope.REACTIONS:
        return f"You may react {item.amount} times per {window} in this conversation"
    if scope == Scope.CONVERSATION:
        return f"You may send {item.amount} messages per {window} in this conversation"
    return f"You may send {item.amount} messages per {window}"


def limiter() -> RateLimiter:
    instance = runtime.current().find(RateLimiter)
    if instance is None:
        raise RuntimeError("the rate limiter is not started")
    return instance
