"""Delivering `notification.send` to NOTIFY_WEBHOOK_URL: signed, retried, bounded.

Signature (Stripe's scheme): `X-Parley-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
"<t>.<body>" under NOTIFY_WEBHOOK_SECRET>`, made afresh for each attempt so the receiver can
refuse old timestamps (replays). Retries: connection errors, timeouts, 408, 429 and 5xx, up to
`ATTEMPTS` attempts with exponential backoff and jitter (a `Retry-After` is honoured, within
`MAX_DELAY_SECONDS`); any other 4xx is final. Neither content nor the secret is ever logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import random
import time
from email.utils import parsedate_to_datetime

import httpx

from parley.core import metrics

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Parley-Signature"
ATTEMPTS = 5
FIRST_DELAY_SECONDS = 1.0
BACKOFF_FACTOR = 3.0  # 1, 3, 9, 27 s (each jittered to 50-100 %): about a minute in all
MAX_DELAY_SECONDS = 30.0
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
CONCURRENCY = 8


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The header's value for `body` sent at `timestamp`."""
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def retry_delay(
    attempt: int, *, status: int | None, retry_after: str | None = None
) -> float | None:
    """Seconds to wait before attempt `attempt + 1`, or None when the failure is final
    (`status` None: no answer, a connection error or timeout)."""
    if attempt >= ATTEMPTS:
        return None
    if status is not None and not (status in (408, 429) or status >= 500):
        return None
    honoured = _retry_after_seconds(retry_after)
    if honoured is not None:
        return min(honoured, MAX_DELAY_SECONDS)
    ceiling = min(FIRST_DELAY_SECONDS * BACKOFF_FACTOR ** (attempt - 1), MAX_DELAY_SECONDS)
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # jitter, not a secret


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    with contextlib.suppress(TypeError, ValueError, IndexError):
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    return None


class WebhookSender:
    """POSTs signed bodies with bounded concurrency; each delivery runs in its own task."""

    def __init__(self, url: str, secret: str) -> None:
        self._url = url
        self._secret = secret
        # trust_env=False: no proxy or .netrc from the environment sees the pushes.
        self._client = httpx.AsyncClient(timeout=TIMEOUT, trust_env=False, follow_redirects=False)
        self._slots = asyncio.Semaphore(CONCURRENCY)
        self._tasks: set[asyncio.Task[None]] = set()

    def deliver(self, delivery_id: str, body: bytes) -> None:
        """Start delivering `body` (retries included) in the background."""
        task = asyncio.create_task(self._deliver(delivery_id, body), name="parley-webhook")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self, grace_seconds: float) -> None:
        """Let deliveries under way finish for `grace_seconds`, then cancel the rest."""
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace_seconds)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._client.aclose()

    async def _deliver(self, delivery_id: str, body: bytes) -> None:
        started = time.monotonic()
        for attempt in range(1, ATTEMPTS + 1):
            status: int | None = None
            retry_after: str | None = None
            try:
                async with self._slots:
                    response = await self._client.post(
                        self._url,
                        content=body,
                        headers={
                            "Content-Type": "application/json",
                            "User-Agent": "Parley-Webhook/1",
                            "X-Parley-Event": "notification.send",
                            "X-Parley-Delivery": delivery_id,
                            SIGNATURE_HEADER: signature(self._secret, body, int(time.time())),
                        },
                    )
                status = response.status_code
                if 200 <= status < 300:
                    metrics.NOTIFICATIONS_DELIVERED.inc()
                    metrics.NOTIFICATION_DELIVERY_SECONDS.observe(time.monotonic() - started)
                    return
                retry_after = response.headers.get("retry-after")
            except httpx.HTTPError as error:
                log.warning(
                    "notification webhook unreachable",
                    extra={
                        "delivery": delivery_id,
                        "attempt": attempt,
                        "error": type(error).__name__,
                    },
                )
            delay = retry_delay(attempt, status=status, retry_after=retry_after)
            if delay is None:
                break
            metrics.NOTIFICATIONS_RETRIED.inc()
            await asyncio.sleep(delay)
        metrics.NOTIFICATIONS_FAILED.inc()
        log.warning(
            "notification not delivered",
            extra={"delivery": delivery_id, "status": status, "attempts": attempt},
        )
