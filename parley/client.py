"""Parley's Python SDK: the REST API and the socket, with an outbox that loses no message.

    client = ParleyClient(["http://127.0.0.1:8000"])
    await client.login("alice", "wonderland1")
    await client.connect()
    entry = await client.send(conversation_id, "hello")   # shown at once, status PENDING
    await client.confirmed(entry.client_message_id)       # SENT once the server committed it

The outbox keeps every message until the server confirms it (`message_confirmed`, or a stored
message answered for its clientMessageId). After a reconnect it sends again, in order, what was
never confirmed; the server recognises the clientMessageId, so nothing is stored twice.
Reconnects back off exponentially with jitter, so a restarted server is not met by every client
at the same instant, and rotate through the given URLs, so a dead instance is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import socketio

log = logging.getLogger(__name__)

# The contract's name for the server's confirmation. The SDK ships without server code, so it
# cannot import the server's catalogue (core/events.py); tests/unit/test_event_catalogue.py
# checks that the two agree.
MESSAGE_CONFIRMED = "message_confirmed"

Handler = Callable[[Any], Awaitable[None] | None]


class ParleyError(Exception):
    """An error answer from the server: `code` is the contract's error code."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


@dataclass
class OutboxEntry:
    client_message_id: str
    conversation_id: str
    content: str
    extra: dict[str, Any] = field(default_factory=dict)
    status: str = "PENDING"  # PENDING -> SENT, or FAILED after too many refusals
    message: dict[str, Any] | None = None
    attempts: int = 0
    confirmed: asyncio.Event = field(default_factory=asyncio.Event)


class ParleyClient:
    def __init__(
        self,
        urls: list[str] | str,
        *,
        token: str | None = None,
        max_backoff_seconds: float = 10.0,
        request_timeout: float = 10.0,
    ) -> None:
        self.urls = [urls] if isinstance(urls, str) else list(urls)
        self.token = token
        self.user: dict[str, Any] | None = None
        self.outbox: OrderedDict[str, OutboxEntry] = OrderedDict()
        self._done: dict[str, OutboxEntry] = {}
        self._url_index = 0
        self._max_backoff = max_backoff_seconds
        self._timeout = request_timeout
        self._handlers: dict[str, list[Handler]] = {}
        self._socket: socketio.AsyncClient | None = None
        self._runner: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._closing = False
        self._flush_lock = asyncio.Lock()
        self._retry: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ REST

    @property
    def url(self) -> str:
        return self.urls[self._url_index % len(self.urls)]

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One REST call, trying the next URL when an instance does not answer."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        last_error: Exception | None = None
        for _ in range(len(self.urls)):
            try:
                async with httpx.AsyncClient(base_url=self.url, timeout=self._timeout) as http:
                    response = await http.request(method, path, headers=headers, **kwargs)
            except httpx.TransportError as error:
                last_error = error
                self._url_index += 1
                continue
            if response.status_code >= 400:
                body = response.json().get("error", {})
                raise ParleyError(
                    body.get("code", "ERROR"), body.get("message", ""), response.status_code
                )
            return response.json()
        raise ParleyError("UNREACHABLE", f"no instance answered: {last_error}")

    async def register(
        self, username: str, password: str, display_name: str | None = None
    ) -> dict[str, Any]:
        body = {"username": username, "password": password}
        if display_name:
            body["displayName"] = display_name
        return await self._logged_in(await self.request("POST", "/auth/register", json=body))

    async def login(self, username: str, password: str) -> dict[str, Any]:
        body = {"username": username, "password": password}
        return await self._logged_in(await self.request("POST", "/auth/login", json=body))

    async def _logged_in(self, answer: dict[str, Any]) -> dict[str, Any]:
        self.token = answer["accessToken"]
        self.user = answer["user"]
        return answer

    async def messages_after(
        self, conversation_id: str, after_seq: int = 0
    ) -> list[dict[str, Any]]:
        """Every committed message after `after_seq`, ascending (REST catch-up)."""
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {"afterSeq": after_seq, "limit": 200}
        while True:
            page = await self.request(
                "GET", f"/messages/conversation/{conversation_id}", params=params
            )
            items.extend(page["items"])
            if not page["hasMore"]:
                return items
            params = {"after": page["nextCursor"], "limit": 200}

    # ------------------------------------------------------------------ socket

    def on(self, event: str, handler: Handler) -> None:
        """Call `handler(payload)` for a server event (`new_message`, `user_typing`, ...)."""
        self._handlers.setdefault(event, []).append(handler)

    async def connect(self) -> None:
        """Connect (and keep reconnecting in the background); returns once connected."""
        if self._runner is None:
            self._closing = False
            self._runner = asyncio.create_task(self._keep_connected(), name="parley-sdk")
        await self._connected.wait()

    async def close(self) -> None:
        self._closing = True
        if self._retry is not None:
            self._retry.cancel()
        if self._socket is not None and self._socket.connected:
            with contextlib.suppress(Exception):
                await self._socket.disconnect()  # the runner's wait() returns, and it stops
        if self._runner is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._runner, self._timeout)
            self._runner = None
        if self._socket is not None:
            await self._close_http(self._socket)
        self._connected.clear()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def _keep_connected(self) -> None:
        attempt = 0
        while not self._closing:
            socket = self._new_socket()
            try:
                await socket.connect(
                    self.url,
                    auth={"token": self.token},
                    transports=["websocket"],
                    wait_timeout=self._timeout,
                )
            except socketio.exceptions.ConnectionError as error:
                await self._close_http(socket)
                attempt += 1
                self._url_index += 1
                delay = min(self._max_backoff, 0.2 * 2**attempt)
                await asyncio.sleep(random.uniform(delay / 2, delay))  # jitter
                log.info("reconnecting", extra={"error": str(error), "delay": delay})
                continue
            attempt = 0
            self._socket = socket
            self._connected.set()
            await self._flush()
            await socket.wait()  # returns when the connection drops
            self._connected.clear()
            await self._close_http(socket)

    def _new_socket(self) -> socketio.AsyncClient:
        # Reconnection is ours (URL rotation, jitter); python-socketio's own is off.
        socket = socketio.AsyncClient(reconnection=False)

        async def any_event(event: str, data: Any) -> None:
            if event == MESSAGE_CONFIRMED:
                self._confirm(data.get("clientMessageId"), data.get("message"))
            for handler in self._handlers.get(event, []):
                result = handler(data)
                if asyncio.iscoroutine(result):
                    await result

        socket.on("*", any_event)
        return socket

    @staticmethod
    async def _close_http(socket: socketio.AsyncClient) -> None:
        http = getattr(socket.eio, "http", None)
        if http is not None and not http.closed:
            await http.close()

    # ------------------------------------------------------------------ outbox

    async def send(self, conversation_id: str, content: str, **extra: Any) -> OutboxEntry:
        """Queue a message: it is PENDING at once, and sent now if connected, else on the
        next connection."""
        entry = OutboxEntry(
            client_message_id=str(uuid.uuid4()),
            conversation_id=conversation_id,
            content=content,
            extra=extra,
        )
        self.outbox[entry.client_message_id] = entry
        if self.connected:
            await self._flush()
        return entry

    async def confirmed(self, client_message_id: str) -> dict[str, Any]:
        """The stored message once the server confirmed it (wrap in asyncio.timeout to bound
        the wait)."""
        entry = self.outbox.get(client_message_id) or self._done.get(client_message_id)
        if entry is None:
            raise KeyError(client_message_id)
        await entry.confirmed.wait()
        assert entry.message is not None
        return entry.message

    def _confirm(self, client_message_id: str | None, message: dict[str, Any] | None) -> None:
        entry = self.outbox.pop(client_message_id or "", None)
        if entry is None or message is None:
            return
        entry.status = "SENT"
        entry.message = message
        self._done[entry.client_message_id] = entry
        entry.confirmed.set()

    def _flush_later(self, delay: float) -> None:
        """Resend once the server's Retry-After has passed (a reconnect also resends)."""
        if self._retry is not None and not self._retry.done():
            return

        async def retry() -> None:
            await asyncio.sleep(delay)
            if self.connected:
                await self._flush()

        self._retry = asyncio.create_task(retry(), name="parley-sdk-retry")

    async def _flush(self) -> None:
        """Send, in order, every message not yet confirmed (again, after a reconnect)."""
        async with self._flush_lock:
            for entry in list(self.outbox.values()):
                if entry.confirmed.is_set() or entry.status == "FAILED":
                    continue
                socket = self._socket
                if socket is None or not self.connected:
                    return
                entry.attempts += 1
                try:
                    ack = await socket.call(
                        "send_message",
                        {
                            "conversationId": entry.conversation_id,
                            "content": entry.content,
                            "clientMessageId": entry.client_message_id,
                            **entry.extra,
                        },
                        timeout=self._timeout,
                    )
                except (
                    socketio.exceptions.TimeoutError,
                    socketio.exceptions.BadNamespaceError,
                    socketio.exceptions.DisconnectedError,
                ):
                    return  # the connection is going; the next one resends
                if not ack.get("ok"):
                    error = ack.get("error", {})
                    if error.get("code") in {"RATE_LIMITED", "SERVICE_UNAVAILABLE"}:
                        # Later messages wait behind this one, so the order holds.
                        details = error.get("details") or {}
                        retry_ms = details.get("retryAfterMs")
                        if retry_ms is None:
                            retry_ms = 1000 * details.get("retryAfterSeconds", 1)
                        self._flush_later(float(retry_ms) / 1000)
                        return
                    if error.get("code") in {
                        "VALIDATION_ERROR",
                        "MESSAGE_TOO_LONG",
                        "CONVERSATION_NOT_FOUND",
                        "PERMISSION_DENIED",
                    }:
                        entry.status = "FAILED"  # retrying cannot help
                    continue
                message = ack["message"]
                if message.get("status") not in ("PENDING", "FAILED"):
                    # Stored before (a retry of a committed send): confirmed already.
                    self._confirm(entry.client_message_id, message)
