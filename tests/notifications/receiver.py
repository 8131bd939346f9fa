"""A loopback webhook receiver for the notification tests: an aiohttp server on a free port
that checks every request's signature (docs/api.md, Notifications), records what it accepts
and can be told to fail a recipient's next requests."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

SECRET = "notification-secret-for-the-tests"
TOLERANCE_SECONDS = 300
TIMEOUT = 15.0


def verify(secret: str, header: str, body: bytes, now: float | None = None) -> bool:
    """The receiver's check, as docs/api.md shows it."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    timestamp, received = parts.get("t", ""), parts.get("v1", "")
    if not timestamp.isdigit() or abs((now or time.time()) - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), received)


@dataclass
class Receiver:
    url: str = ""
    # Accepted deliveries (2xx answered), by recipient user id, in arrival order.
    accepted: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    # Every request, accepted or not: (delivery id, status answered).
    requests: list[tuple[str, int]] = field(default_factory=list)
    bad_signatures: int = 0
    # Statuses to answer a recipient's next requests with (then 200).
    failures: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not verify(SECRET, request.headers.get("X-Parley-Signature", ""), body):
            self.bad_signatures += 1
            return web.Response(status=401)
        payload = json.loads(body)
        recipient = payload["recipient"]["userId"]
        scripted = self.failures[recipient]
        status = scripted.pop(0) if scripted else 200
        self.requests.append((payload["id"], status))
        if status == 200:
            self.accepted[recipient].append({**payload, "_raw": body.decode()})
        async with self.changed:
            self.changed.notify_all()
        return web.Response(status=status)

    def items(self, user_id: str) -> list[dict[str, Any]]:
        return [item for delivery in self.accepted[user_id] for item in delivery["items"]]

    def message_ids(self, user_id: str) -> list[str]:
        return [item["messageId"] for item in self.items(user_id)]

    async def wait_for_message(self, user_id: str, message_id: str) -> None:
        """Until `user_id` was notified of `message_id` (a deadline, not a sleep)."""
        await self.wait_until(lambda: message_id in self.message_ids(user_id))

    async def wait_until(self, condition: Any) -> None:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(condition), TIMEOUT)


async def start_receiver() -> tuple[Receiver, web.AppRunner]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()  # port 0: the one bound is ours
    host, port = runner.addresses[0][:2]
    receiver.url = f"http://{host}:{port}/hook"
    return receiver, runner


def notify_env(
    receiver: Receiver, backend_env: dict[str, str], window: str, group: str
) -> dict[str, str]:
    """The servers' settings: the webhook, a short window, and (with Redis) a key prefix of
    this module's own, so no other server sweeps its windows."""
    env = {
        "NOTIFY_WEBHOOK_URL": receiver.url,
        "NOTIFY_WEBHOOK_SECRET": SECRET,
        "NOTIFY_BATCH_SECONDS": window,
    }
    if "REDIS_KEY_PREFIX" in backend_env:
        env["REDIS_KEY_PREFIX"] = f"{backend_env['REDIS_KEY_PREFIX']}{group}:"
    return env
