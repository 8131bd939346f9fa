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

Healing (the rules the web client follows too: docs/api.md, "Client rules for healing"):

- A send refused or failed (`message_failed`, or the ack's error) is classified by
  `classify(code)` (the table `SEND_ERRORS`): a transient code (`COMMIT_FAILED`,
  `SERVICE_UNAVAILABLE`) resends the entry with the same clientMessageId after a jittered,
  growing backoff, while the socket stays up. Until one resend is confirmed only the oldest
  entry is sent (a probe), so the outbox keeps its order. `INTERNAL_ERROR` (a server bug) is
  resent the same way at most `INTERNAL_ERROR_RETRIES` (3) times in a row, then permanent.
  `RATE_LIMITED` waits for Retry-After; an auth code waits for the next connection; any
  other code is permanent: the entry becomes FAILED, leaves the outbox, `confirmed()`
  raises `ParleyError`, and the application hears it:

      client.on("send_failed", lambda entry: ...)   # entry.status == "FAILED", entry.error

  (`on("message_failed", ...)` still gets the server's raw event, transient ones included.)
- What no event reports heals by time: an entry still unconfirmed `resend_after_seconds`
  (5 s) after it last went out is sent again, in order, with the same clientMessageId (an ack
  lost to its timeout stops a flush, and a `message_confirmed` or `message_failed` may not
  reach a socket that stays up). The wait doubles with each such resend (up to 60 s) and is
  drawn up to half again longer. The server answers a committed clientMessageId with the
  stored message: that answer confirms the entry like `message_confirmed`, and
  `on("message_confirmed", ...)` handlers hear each entry once, whichever came first.
- `new_message` handlers get each message once, in `seq` order per conversation: when a
  message's `seq` skips past the last one seen, the SDK first fetches the gap with the socket's
  `sync` (paging while `hasMore`) and hands the missed messages over, then the new one. After
  a reconnect every conversation the SDK has seen (`seen_seq`) is synced from its last `seq`.
  `join(conversation_id, after_seq=...)` starts following a conversation from a known `seq`.
- Calls that create things (`create_conversation`, `add_participants`, `forward`) send an
  `Idempotency-Key` header, one fresh key per call, reused when the SDK retries it on another
  URL.
- An instance that stops (a rolling deploy) says so: `server_shutdown {reconnectAfterMs}` on
  the socket, after which the SDK keeps the socket until the delay has passed (the server
  draws it per socket, so its clients do not all come back at once), then reconnects to the
  next URL; a REST call it refuses with 503 `SERVICE_UNAVAILABLE` and `details.reason`
  `SHUTTING_DOWN` is sent to the next URL at once (nothing of it was done).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
import socketio

log = logging.getLogger(__name__)

# The contract's name for the server's confirmation. The SDK ships without server code, so it
# cannot import the server's catalogue (core/events.py); tests/unit/test_event_catalogue.py
# checks that the two agree.
MESSAGE_CONFIRMED = "message_confirmed"

NEW_MESSAGE = "new_message"
MESSAGE_FAILED = "message_failed"
SERVER_SHUTDOWN = "server_shutdown"
# `details.reason` of a 503 from an instance that is shutting down.
SHUTTING_DOWN = "SHUTTING_DOWN"
# The longest `reconnectAfterMs` the SDK waits for (a bound on a hint it cannot check).
MAX_SHUTDOWN_DELAY = 60.0
# The SDK's own event: an outbox entry failed for good (the handler gets the OutboxEntry).
SEND_FAILED = "send_failed"

Handler = Callable[[Any], Awaitable[None] | None]

# What a send's error code means for the outbox: one table for the ack's errors and for
# `message_failed`. A code not listed is PERMANENT.
TRANSIENT = "TRANSIENT"  # resend the same clientMessageId with backoff, in order
BOUNDED = "BOUNDED"  # as TRANSIENT, but FAILED after INTERNAL_ERROR_RETRIES resends in a row
WAIT = "WAIT"  # resend after the server's Retry-After
RECONNECT = "RECONNECT"  # the session is the problem: resend on the next connection
PERMANENT = "PERMANENT"  # FAILED: retrying cannot help; the application is told
SEND_ERRORS: dict[str, str] = {
    "COMMIT_FAILED": TRANSIENT,
    "SERVICE_UNAVAILABLE": TRANSIENT,
    # A bug in the server (a database or Redis failure answers SERVICE_UNAVAILABLE): the
    # retry is safe (the same clientMessageId) and may pass, but one that fails every time
    # must not hold the outbox behind it for ever.
    "INTERNAL_ERROR": BOUNDED,
    "RATE_LIMITED": WAIT,
    "UNAUTHORIZED": RECONNECT,
    "INVALID_TOKEN": RECONNECT,
    "TOKEN_EXPIRED": RECONNECT,
}

# The longest wait between resends after transient failures: the outbox drains within moments
# of the server healing (reconnects have their own, longer cap).
RESEND_BACKOFF_CAP = 2.0
# How many times in a row an entry answered INTERNAL_ERROR is resent before it is FAILED.
INTERNAL_ERROR_RETRIES = 3
# The resend timer: an entry still unconfirmed `resend_after_seconds` after it last went out is
# sent again; each such resend doubles the wait, up to this cap.
RESEND_UNCONFIRMED_CAP = 60.0

# Codes of a `sync` refusal that mean the conversation is no longer the caller's to follow.
GONE = {"CONVERSATION_NOT_FOUND", "PERMISSION_DENIED"}


def classify(code: str | None) -> str:
    """TRANSIENT, WAIT, RECONNECT or PERMANENT for a send's error code."""
    return SEND_ERRORS.get(code or "", PERMANENT)


_SEARCH_FILTERS = frozenset(
    {"conversation_id", "sender_id", "since", "until", "hashtag", "mention"}
)


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


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
    status: str = "PENDING"  # PENDING -> SENT, or FAILED on a permanent error
    message: dict[str, Any] | None = None
    error: dict[str, Any] | None = None  # {code, message} once FAILED
    attempts: int = 0
    confirmed: asyncio.Event = field(default_factory=asyncio.Event)  # set when SENT or FAILED
    in_flight: bool = False  # acknowledged PENDING on this connection, outcome not heard yet
    # The resend timer's state: when it goes out again if still unconfirmed (event loop time),
    # and how many times it already did (the backoff).
    resend_at: float = 0.0
    overdue_resends: int = 0
    internal_errors: int = 0  # INTERNAL_ERROR answers in a row


class ParleyClient:
    def __init__(
        self,
        urls: list[str] | str,
        *,
        token: str | None = None,
        max_backoff_seconds: float = 10.0,
        request_timeout: float = 10.0,
        resend_after_seconds: float = 5.0,
    ) -> None:
        """`resend_after_seconds`: an outbox entry still unconfirmed this long after it last
        went out is sent again with the same clientMessageId (its ack or `message_confirmed`
        may have been lost while the socket stayed up); the wait doubles with each such resend
        (up to RESEND_UNCONFIRMED_CAP) and is drawn up to half again longer (jitter)."""
        self.urls = [urls] if isinstance(urls, str) else list(urls)
        self.token = token
        self.user: dict[str, Any] | None = None
        self.outbox: OrderedDict[str, OutboxEntry] = OrderedDict()
        self._done: dict[str, OutboxEntry] = {}
        self._url_index = 0
        self._max_backoff = max_backoff_seconds
        self._timeout = request_timeout
        self._resend_after = resend_after_seconds
        self._handlers: dict[str, list[Handler]] = {}
        self._socket: socketio.AsyncClient | None = None
        self._runner: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._closing = False
        self._flush_lock = asyncio.Lock()
        self._retry: asyncio.Task[None] | None = None
        # Healing the outbox: consecutive transient failures, whether only the oldest entry
        # goes out (a probe) until one is confirmed, and when the next resend may go.
        self._failures = 0
        self._probing = False
        self._hold_until = 0.0
        self._tasks: set[asyncio.Task[None]] = set()
        # Healing the stream: the last seq handed to the application, per conversation.
        self._last_seq: dict[str, int] = {}
        self._conversation_locks: dict[str, asyncio.Lock] = {}
        self._catching_up: set[str] = set()
        self._ever_connected = False
        # After `server_shutdown`: when (event loop time) the next connect may go.
        self._reconnect_at = 0.0

    # ------------------------------------------------------------------ REST

    @property
    def url(self) -> str:
        return self.urls[self._url_index % len(self.urls)]

    async def request(
        self, method: str, path: str, *, idempotency_key: str | None = None, **kwargs: Any
    ) -> Any:
        """One REST call, trying the next URL when an instance does not answer (with the same
        `Idempotency-Key`, if given, so the server can answer a retry as the first call)."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
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
                refusal = ParleyError(
                    body.get("code", "ERROR"), body.get("message", ""), response.status_code
                )
                if (body.get("details") or {}).get("reason") == SHUTTING_DOWN:
                    last_error = refusal  # refused before anything was done: the next URL
                    self._url_index += 1
                    continue
                raise refusal
            return None if response.status_code == 204 else response.json()
        if isinstance(last_error, ParleyError):
            raise last_error
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

    async def refresh(self) -> dict[str, Any]:
        """Swap the token for a new one (the old one is revoked, and the socket that used it is
        cut: it reconnects with the new token). Call it before `expiresIn` runs out."""
        return await self._logged_in(await self.request("POST", "/auth/refresh"))

    async def change_password(self, current_password: str, new_password: str) -> dict[str, Any]:
        """Change the password: every older token (other devices too) is revoked; this client
        goes on with the new token the server answers."""
        body = {"currentPassword": current_password, "newPassword": new_password}
        return await self._logged_in(await self.request("POST", "/users/me/password", json=body))

    async def _logged_in(self, answer: dict[str, Any]) -> dict[str, Any]:
        self.token = answer["accessToken"]
        self.user = answer["user"]
        return answer

    async def upload_attachment(
        self,
        source: str | os.PathLike[str] | bytes,
        name: str | None = None,
        *,
        conversation_id: str | None = None,
    ) -> dict[str, Any]:
        """POST /attachments: a file path (streamed from disk) or bytes; the answer has the
        attachment's `id` to put in a message's `attachments`."""
        data = {"conversationId": conversation_id} if conversation_id else None
        if isinstance(source, bytes):
            files = {"file": (name or "file", source, "application/octet-stream")}
            return dict(await self.request("POST", "/attachments", files=files, data=data))
        path = Path(source)
        # httpx reads the file object in chunks as it sends: the file is never whole in memory.
        with path.open("rb") as handle:  # noqa: ASYNC230
            streamed = {"file": (name or path.name, handle, "application/octet-stream")}
            return dict(await self.request("POST", "/attachments", files=streamed, data=data))

    async def download_attachment(
        self, attachment_id: str, destination: str | os.PathLike[str] | None = None
    ) -> bytes | Path:
        """GET /attachments/{id}: the bytes, or, with a `destination`, streamed into that
        file (its Path returned)."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with (
            httpx.AsyncClient(base_url=self.url, timeout=self._timeout) as http,
            http.stream("GET", f"/attachments/{attachment_id}", headers=headers) as response,
        ):
            if response.status_code >= 400:
                body = json.loads(await response.aread()).get("error", {})
                raise ParleyError(
                    body.get("code", "ERROR"), body.get("message", ""), response.status_code
                )
            if destination is None:
                return await response.aread()
            target = Path(destination)
            async with await anyio.open_file(target, "wb") as out:
                async for chunk in response.aiter_bytes():
                    await out.write(chunk)
            return target

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

    async def create_conversation(
        self, type: str, participant_ids: list[str], **fields: Any
    ) -> dict[str, Any]:
        """POST /conversations (name, description, settings... as keyword fields)."""
        body = {"type": type, "participantIds": participant_ids, **fields}
        return await self.request(  # type: ignore[no-any-return]
            "POST", "/conversations", json=body, idempotency_key=str(uuid.uuid4())
        )

    async def add_participants(
        self, conversation_id: str, user_ids: list[str], role: str | None = None
    ) -> Any:
        """POST /conversations/{id}/participants."""
        body: dict[str, Any] = {"userIds": user_ids}
        if role is not None:
            body["role"] = role
        return await self.request(
            "POST",
            f"/conversations/{conversation_id}/participants",
            json=body,
            idempotency_key=str(uuid.uuid4()),
        )

    async def forward(
        self, message_id: str, conversation_ids: list[str], *, wait: bool = False
    ) -> Any:
        """POST /messages/{id}/forward (`wait`: answer once the copies are stored)."""
        return await self.request(
            "POST",
            f"/messages/{message_id}/forward",
            params={"wait": "true"} if wait else None,
            json={"conversationIds": conversation_ids},
            idempotency_key=str(uuid.uuid4()),
        )

    async def schedule_message(
        self,
        conversation_id: str,
        content: str,
        scheduled_at: datetime,
        *,
        client_message_id: str | None = None,
    ) -> dict[str, Any]:
        """POST /messages with `scheduledAt`: the scheduled message (status SCHEDULED); sent
        at its time as any message. A retry with the same `client_message_id` is the same."""
        return await self.request(  # type: ignore[no-any-return]
            "POST",
            "/messages",
            json={
                "conversationId": conversation_id,
                "content": content,
                "scheduledAt": scheduled_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                "clientMessageId": client_message_id or str(uuid.uuid4()),
            },
        )

    async def scheduled_messages(
        self, *, status: str | None = None, cursor: str | None = None
    ) -> dict[str, Any]:
        """GET /messages/scheduled: one page of mine `{items, nextCursor}`, soonest first."""
        params = {k: v for k, v in {"status": status, "cursor": cursor}.items() if v is not None}
        return await self.request("GET", "/messages/scheduled", params=params)  # type: ignore[no-any-return]

    async def cancel_scheduled(self, scheduled_id: str) -> None:
        """DELETE /messages/scheduled/{id}: cancel it (fine when already cancelled)."""
        await self.request("DELETE", f"/messages/scheduled/{scheduled_id}")

    async def search_messages(
        self,
        q: str,
        *,
        cursor: str | None = None,
        limit: int | None = None,
        **filters: str,
    ) -> dict[str, Any]:
        """GET /messages/search: one page `{items, nextCursor}`, best match first. Filters by
        keyword: conversation_id, sender_id, since (`from`), until (`to`), hashtag, mention;
        pass `nextCursor` back as `cursor` for the next page."""
        names = {"since": "from", "until": "to"}
        params: dict[str, Any] = {"q": q}
        for name, value in filters.items():
            if name not in _SEARCH_FILTERS:
                raise TypeError(f"search_messages() got an unexpected filter {name!r}")
            params[names.get(name, _camel(name))] = value
        if cursor is not None:
            params["cursor"] = cursor
        if limit is not None:
            params["limit"] = limit
        return await self.request("GET", "/messages/search", params=params)  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ socket

    def on(self, event: str, handler: Handler) -> None:
        """Call `handler(payload)` for a server event (`new_message`, `user_typing`, ...), or
        `handler(entry)` for the SDK's `send_failed`."""
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
        for task in list(self._tasks):
            task.cancel()
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

    async def join(self, conversation_id: str, after_seq: int | None = None) -> None:
        """Join a conversation's room (the server joins the member's conversations at
        connect). With `after_seq`, follow it from there: what came after is delivered now."""
        await self._call("join_conversation", {"conversationId": conversation_id})
        if after_seq is not None:
            async with self._lock_for(conversation_id):
                self._last_seq[conversation_id] = max(
                    after_seq, self._last_seq.get(conversation_id, after_seq)
                )
                await self._catch_up_locked(conversation_id)

    async def leave(self, conversation_id: str) -> None:
        """Leave a conversation's room on this socket (its messages stop arriving live)."""
        await self._call("leave_conversation", {"conversationId": conversation_id})

    def seen_seq(self, conversation_id: str) -> int | None:
        """The last seq of the conversation handed to the application, if any."""
        return self._last_seq.get(conversation_id)

    async def _call(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        socket = self._socket
        if socket is None or not self.connected:
            raise ParleyError("DISCONNECTED", "the socket is not connected")
        ack: dict[str, Any] = await socket.call(event, data, timeout=self._timeout)
        if not ack.get("ok"):
            error = ack.get("error") or {}
            raise ParleyError(error.get("code", "ERROR"), error.get("message", ""))
        return ack

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
            self._hold_until = 0.0  # the reconnect itself waited
            self._connected.set()
            if self._last_seq:
                # Whatever was missed while away: every conversation seen, from its last seq.
                self._spawn(self._catch_up_all(), "parley-sdk-resync")
            for entry in self.outbox.values():
                entry.overdue_resends = 0  # a new connection: the timer's backoff starts over
            await self._flush()
            resender = asyncio.create_task(self._resend_unconfirmed(), name="parley-sdk-resend")
            await socket.wait()  # returns when the connection drops
            resender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await resender
            self._connected.clear()
            for entry in self.outbox.values():
                entry.in_flight = False  # its outcome may be lost with the connection
            await self._close_http(socket)
            # The instance said it was stopping: not before the delay it gave this socket.
            wait = self._reconnect_at - asyncio.get_running_loop().time()
            self._reconnect_at = 0.0
            if wait > 0 and not self._closing:
                await asyncio.sleep(wait)

    def _new_socket(self) -> socketio.AsyncClient:
        # Reconnection is ours (URL rotation, jitter); python-socketio's own is off.
        socket = socketio.AsyncClient(reconnection=False)

        async def any_event(event: str, data: Any) -> None:
            if event == MESSAGE_CONFIRMED:
                client_message_id = data.get("clientMessageId")
                if client_message_id in self.outbox:
                    await self._confirmed_now(client_message_id, data.get("message"))
                    return  # handed over by _confirmed_now, as for a stored answer in an ack
                done = self._done.get(client_message_id or "")
                if done is not None and done.status == "SENT":
                    return  # confirmed already (a resend's ack brought the stored message)
                # Another device's send (the sender's user room), or a late confirm of an entry
                # FAILED here: handed over as it came.
            elif event == MESSAGE_FAILED:
                await self._failed(data.get("clientMessageId"), data.get("error") or {})
            elif event == SERVER_SHUTDOWN:
                self._move_after(socket, data)
            elif event == NEW_MESSAGE:
                await self._on_new_message(data)
                return  # handed over in seq order (or not at all, if seen already)
            await self._emit_local(event, data)

        socket.on("*", any_event)
        return socket

    def _move_after(self, socket: socketio.AsyncClient, data: Any) -> None:
        """`server_shutdown`: keep this socket (it still brings messages) until the delay the
        server drew for it, then leave it and connect to the next URL. The server cuts the
        socket a moment after the delay anyway; the reconnect waits for the delay either way."""
        raw = data.get("reconnectAfterMs") if isinstance(data, dict) else None
        delay = min(MAX_SHUTDOWN_DELAY, max(0.0, float(raw) / 1000)) if raw else 0.0
        self._reconnect_at = asyncio.get_running_loop().time() + delay
        if len(self.urls) > 1:
            self._url_index += 1  # REST goes there at once; the socket after the delay

        async def leave() -> None:
            await asyncio.sleep(delay)
            if socket.connected:
                await socket.disconnect()

        self._spawn(leave(), "parley-sdk-moving")

    async def _emit_local(self, event: str, data: Any) -> None:
        for handler in self._handlers.get(event, []):
            result = handler(data)
            if asyncio.iscoroutine(result):
                await result

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _close_http(socket: socketio.AsyncClient) -> None:
        http = getattr(socket.eio, "http", None)
        if http is not None and not http.closed:
            await http.close()

    # ------------------------------------------------------------------ the stream

    def _lock_for(self, conversation_id: str) -> asyncio.Lock:
        # Socket events are handled in tasks of their own: one conversation's are taken in
        # arrival order, one at a time, so a gap is synced before the next message is handed on.
        return self._conversation_locks.setdefault(conversation_id, asyncio.Lock())

    async def _on_new_message(self, data: Any) -> None:
        message = data.get("message") if isinstance(data, dict) else None
        seq = message.get("seq") if isinstance(message, dict) else None
        if not isinstance(message, dict) or not isinstance(seq, int):
            await self._emit_local(NEW_MESSAGE, data)
            return
        conversation_id = str(message.get("conversationId"))
        async with self._lock_for(conversation_id):
            last = self._last_seq.get(conversation_id)
            if last is not None and seq <= last:
                return  # handed over already (a sync brought it)
            if last is not None and seq > last + 1:
                outcome = await self._catch_up_locked(conversation_id)
                if outcome == "retry":
                    # Not handed over out of order: the retried sync brings it with the gap.
                    self._catch_up_soon(conversation_id)
                    return
                if seq <= self._last_seq.get(conversation_id, 0):
                    return
            self._last_seq[conversation_id] = seq
            await self._emit_local(NEW_MESSAGE, data)

    async def _catch_up_all(self) -> None:
        for conversation_id in list(self._last_seq):
            async with self._lock_for(conversation_id):
                outcome = await self._catch_up_locked(conversation_id)
            if outcome == "retry":
                self._catch_up_soon(conversation_id)

    def _catch_up_soon(self, conversation_id: str) -> None:
        """Retry a failed sync with backoff while connected (one retry per conversation;
        a reconnect syncs anyway)."""
        if conversation_id in self._catching_up:
            return
        self._catching_up.add(conversation_id)

        async def retry() -> None:
            delay = 0.2
            try:
                while not self._closing and self.connected:
                    await asyncio.sleep(random.uniform(delay / 2, delay))
                    async with self._lock_for(conversation_id):
                        if await self._catch_up_locked(conversation_id) != "retry":
                            return
                    delay = min(self._max_backoff, delay * 2)
            finally:
                self._catching_up.discard(conversation_id)

        self._spawn(retry(), "parley-sdk-gap")

    async def _catch_up_locked(self, conversation_id: str) -> str:
        """Hand over every committed message after the last seen seq, in seq order (the
        conversation's lock is held). "done", "retry" (try again later) or "gone"."""
        while conversation_id in self._last_seq:
            after = self._last_seq[conversation_id]
            try:
                page = await self._call(
                    "sync", {"conversationId": conversation_id, "afterSeq": after, "limit": 200}
                )
            except ParleyError as error:
                if error.code in GONE:
                    self._last_seq.pop(conversation_id, None)  # no longer ours to follow
                    return "gone"
                return "retry"
            except (
                socketio.exceptions.TimeoutError,
                socketio.exceptions.BadNamespaceError,
                socketio.exceptions.DisconnectedError,
            ):
                return "retry"
            for message in page.get("messages", []):
                seq = message.get("seq")
                if isinstance(seq, int) and seq > self._last_seq.get(conversation_id, seq - 1):
                    self._last_seq[conversation_id] = seq
                    await self._emit_local(NEW_MESSAGE, {"message": message})
            if not page.get("hasMore") or not page.get("messages"):
                return "done"
        return "gone"

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
        self._schedule_resend(entry)  # not sent in time (a flush stopped before it): the timer
        self.outbox[entry.client_message_id] = entry
        if self.connected:
            await self._flush()
        return entry

    async def confirmed(self, client_message_id: str) -> dict[str, Any]:
        """The stored message once the server confirmed it (wrap in asyncio.timeout to bound
        the wait); `ParleyError` with the code if the entry failed for good."""
        entry = self.outbox.get(client_message_id) or self._done.get(client_message_id)
        if entry is None:
            raise KeyError(client_message_id)
        await entry.confirmed.wait()
        if entry.status == "FAILED":
            error = entry.error or {}
            raise ParleyError(error.get("code", "ERROR"), error.get("message", ""))
        assert entry.message is not None
        return entry.message

    def _confirm(
        self, client_message_id: str | None, message: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        """Mark the entry SENT: by `message_confirmed`, or by an ack that answers a resend
        with the stored message. The payload to hand over as `message_confirmed` the first
        time, None if there is nothing to confirm (so the application hears it once)."""
        entry = self.outbox.get(client_message_id or "")
        if entry is None or message is None:
            return None
        del self.outbox[entry.client_message_id]
        entry.status = "SENT"
        entry.message = message
        entry.in_flight = False
        self._done[entry.client_message_id] = entry
        entry.confirmed.set()
        if self._probing:
            # The server stores again: what waited behind the probe goes now, in order.
            self._probing = False
            self._failures = 0
            if self.outbox and self.connected:
                self._spawn(self._flush(), "parley-sdk-flush")
        return {"clientMessageId": entry.client_message_id, "message": message}

    async def _confirmed_now(
        self, client_message_id: str | None, message: dict[str, Any] | None
    ) -> None:
        payload = self._confirm(client_message_id, message)
        if payload is not None:
            await self._emit_local(MESSAGE_CONFIRMED, payload)

    async def _failed(self, client_message_id: str | None, error: dict[str, Any]) -> None:
        """`message_failed`: resend later if transient, else the entry fails for good."""
        entry = self.outbox.get(client_message_id or "")
        if entry is None or entry.status != "PENDING":
            return
        entry.in_flight = False
        notices: list[tuple[str, Any]] = []
        self._refused(entry, error, notices)
        for event, data in notices:
            await self._emit_local(event, data)

    def _refused(
        self, entry: OutboxEntry, error: dict[str, Any], notices: list[tuple[str, Any]]
    ) -> bool:
        """What a send's error (its ack's or `message_failed`'s) does to the entry, by
        `classify`; the one place for both. True when later entries must wait behind it;
        a FAILED entry's `send_failed` is added to `notices`."""
        kind = classify(error.get("code"))
        if kind == BOUNDED:
            entry.internal_errors += 1
            kind = TRANSIENT if entry.internal_errors <= INTERNAL_ERROR_RETRIES else PERMANENT
        details = error.get("details") or {}
        if kind == WAIT or (kind == TRANSIENT and "retryAfterSeconds" in details):
            # Later messages wait behind this one, so the order holds.
            retry_ms = details.get("retryAfterMs")
            if retry_ms is None:
                retry_ms = 1000 * details.get("retryAfterSeconds", 1)
            self._flush_later(float(retry_ms) / 1000)
            return True
        if kind == TRANSIENT:
            self._back_off()
            return True
        if kind == RECONNECT:
            return True  # the next connection (with a fresh token) resends
        self._give_up(entry, error)  # retrying cannot help
        notices.append((SEND_FAILED, entry))
        return False

    def _give_up(self, entry: OutboxEntry, error: dict[str, Any]) -> None:
        self.outbox.pop(entry.client_message_id, None)
        entry.status = "FAILED"
        entry.error = {"code": error.get("code"), "message": error.get("message")}
        entry.in_flight = False
        self._done[entry.client_message_id] = entry
        entry.confirmed.set()

    def _back_off(self) -> None:
        """After a transient failure: only the oldest entry goes out (a probe), after a
        jittered delay that grows with each failure in a row."""
        self._failures += 1
        self._probing = True
        delay = min(self._max_backoff, RESEND_BACKOFF_CAP, 0.1 * 2 ** min(self._failures, 10))
        delay = random.uniform(delay / 2, delay)
        loop = asyncio.get_running_loop()
        self._hold_until = max(self._hold_until, loop.time() + delay)
        running = self._retry
        if running is not None and not running.done() and running is not asyncio.current_task():
            running.cancel()  # one timer, at the latest hold (not the timer's own flush)

        async def retry() -> None:
            await asyncio.sleep(max(0.0, self._hold_until - loop.time()))
            if self.connected:
                await self._flush()

        self._retry = asyncio.create_task(retry(), name="parley-sdk-backoff")

    def _flush_later(self, delay: float) -> None:
        """Resend once the server's Retry-After has passed (a reconnect also resends, and so
        does the next send: the application may know the limit changed)."""
        if self._retry is not None and not self._retry.done():
            return

        async def retry() -> None:
            await asyncio.sleep(delay)
            if self.connected:
                await self._flush()

        self._retry = asyncio.create_task(retry(), name="parley-sdk-retry")

    def _schedule_resend(self, entry: OutboxEntry) -> None:
        """When the resend timer sends `entry` again if it is still unconfirmed by then."""
        cap = max(self._resend_after, RESEND_UNCONFIRMED_CAP)
        wait = min(cap, self._resend_after * 2 ** min(entry.overdue_resends, 16))
        # Drawn up to half again longer: clients that lost their confirms together (one
        # server fault) do not all resend at the same instant.
        entry.resend_at = asyncio.get_running_loop().time() + random.uniform(wait, 1.5 * wait)

    async def _resend_unconfirmed(self) -> None:
        """While connected: what is still unconfirmed past its resend time goes out again, in
        order, through `_flush`. Heals what no event reports: an ack lost to its timeout (the
        flush stopped there, so the entries behind it were never sent), or a
        `message_confirmed`/`message_failed` the server could not deliver. A resend of a
        committed message is answered with the stored message, which confirms it."""
        loop = asyncio.get_running_loop()
        while not self._closing and self.connected:
            now = loop.time()
            overdue = [entry for entry in self.outbox.values() if entry.resend_at <= now]
            if overdue:
                for entry in overdue:
                    entry.in_flight = False  # its outcome is taken as lost
                    entry.overdue_resends += 1
                    self._schedule_resend(entry)  # also when a backoff holds this flush back
                await self._flush()
                continue
            next_at = min((entry.resend_at for entry in self.outbox.values()), default=None)
            # New entries are due no sooner than resend_after from now: looking again at
            # half of it is soon enough.
            nap = self._resend_after / 2 if next_at is None else next_at - now
            await asyncio.sleep(max(0.01, min(nap, self._resend_after / 2)))

    async def _flush(self) -> None:
        """Send, in order, every message not yet confirmed and not awaiting its outcome (an
        entry acknowledged PENDING waits for `message_confirmed`, `message_failed` or the
        resend timer); while probing after a transient failure, only the oldest, once its
        backoff has passed. Callbacks run after the flush lock is released, so a handler may
        send."""
        notices: list[tuple[str, Any]] = []
        async with self._flush_lock:
            await self._send_outbox(notices)
        for event, data in notices:
            await self._emit_local(event, data)

    async def _send_outbox(self, notices: list[tuple[str, Any]]) -> None:
        if asyncio.get_running_loop().time() < self._hold_until:
            return  # the backoff timer flushes
        for entry in list(self.outbox.values()):
            if entry.confirmed.is_set() or entry.status == "FAILED":
                continue
            if entry.in_flight:
                if self._probing:
                    return  # the probe's outcome decides what goes next
                continue
            socket = self._socket
            if socket is None or not self.connected:
                return
            entry.attempts += 1
            self._schedule_resend(entry)
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
                # No answer: the connection is going (the next one resends) or the server is
                # slow (the resend timer resends); later entries wait behind this one.
                return
            if not ack.get("ok"):
                if self._refused(entry, ack.get("error") or {}, notices):
                    return
                continue
            entry.internal_errors = 0
            message = ack["message"]
            if message.get("status") not in ("PENDING", "FAILED"):
                # Stored before (a resend of a committed send): this answer is the confirmation.
                payload = self._confirm(entry.client_message_id, message)
                if payload is not None:
                    notices.append((MESSAGE_CONFIRMED, payload))
            else:
                entry.in_flight = True
                if self._probing:
                    return  # one probe at a time
