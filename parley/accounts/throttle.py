"""Throttling of login and registration, so passwords cannot be guessed at speed.

Two limits, counted like the send limits (`ratelimit/`: the `limits` library's sliding-window
counter, in Redis when REDIS_URL is set so every instance shares the counters, in process
otherwise):

- ADDRESS: every login and registration attempt from one client address,
  `AUTH_RATE_LIMIT_PER_ADDRESS` per minute.
- ACCOUNT: failed logins per username (known or not, so the answer tells nothing about which
  names exist), `AUTH_RATE_LIMIT_PER_ACCOUNT` per 15 minutes. A successful login is neither
  counted nor a reset: only the window's passing unlocks. While the account is locked every
  login for it is refused before the password is checked, the right one included, so guessing
  cannot go on (and a locked account costs no hashing).

A refusal raises `RateLimited` (429 with Retry-After).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable
from enum import StrEnum

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.errors import StorageError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from parley.core import metrics, runtime
from parley.core.config import Settings
from parley.core.errors import RateLimited
from parley.core.limits import sliding_window_limiter

log = logging.getLogger(__name__)

ACCOUNT_WINDOW_MINUTES = 15
ADDRESS_WINDOW_MINUTES = 1


class AuthScope(StrEnum):
    ACCOUNT = "ACCOUNT"
    ADDRESS = "ADDRESS"


class AuthThrottle:
    """The process's login and registration limits."""

    def __init__(self, settings: Settings, redis: Redis | None) -> None:
        self._limiter = sliding_window_limiter(settings, redis)
        self._per_account = RateLimitItemPerMinute(
            settings.auth_rate_limit_per_account, ACCOUNT_WINDOW_MINUTES
        )
        self._per_address = RateLimitItemPerMinute(
            settings.auth_rate_limit_per_address, ADDRESS_WINDOW_MINUTES
        )

    async def count_attempt(self, address: str) -> None:
        """Count one login or registration from `address`; RATE_LIMITED past the limit."""
        if not await self._safely(self._limiter.hit(self._per_address, "auth-address", address)):
            await self._refuse(AuthScope.ADDRESS, self._per_address, address)

    async def check_account(self, username: str) -> None:
        """RATE_LIMITED while `username` has used up its failed logins."""
        key = username.lower()
        if not await self._safely(self._limiter.test(self._per_account, "auth-account", key)):
            await self._refuse(AuthScope.ACCOUNT, self._per_account, key)

    async def count_failure(self, username: str) -> None:
        """Count one failed login for `username`."""
        await self._safely(self._limiter.hit(self._per_account, "auth-account", username.lower()))

    async def _safely(self, check: Awaitable[bool]) -> bool:
        try:
            return await check
        except (RedisError, StorageError, OSError) as error:
            # Fail open, like the send limits: a Redis outage must not lock everyone out.
            log.warning("auth limit not checked: %s", error)
            return True

    async def _refuse(self, scope: AuthScope, item: RateLimitItem, identifier: str) -> None:
        metrics.rate_limit_refused("auth_" + scope.lower())
        namespace = "auth-account" if scope == AuthScope.ACCOUNT else "auth-address"
        try:
            stats = await self._limiter.get_window_stats(item, namespace, identifier)
            retry_after = max(0.0, stats.reset_time - time.time())
        except (RedisError, StorageError, OSError):
            retry_after = float(item.get_expiry())
        retry_after_ms = max(1000, math.ceil(retry_after * 1000))
        what = "failed logins for this account" if scope == AuthScope.ACCOUNT else "attempts"
        raise RateLimited(
            f"Too many {what}: {item.amount} per {item.get_expiry() // 60} minute(s)",
            scope=str(scope),
            limit=item.amount,
            windowSeconds=item.get_expiry(),
            retryAfterMs=retry_after_ms,
            retryAfterSeconds=math.ceil(retry_after_ms / 1000),
        )


def auth_throttle() -> AuthThrottle:
    return runtime.current().component(AuthThrottle)
