"""Request context: a request id on every log line and response, an access log line, the
request's latency in /metrics (by route template), and (when PARLEY_SQL_COUNT_HEADER is on)
the number of SQL statements the request caused."""

from __future__ import annotations

import logging
import time
import uuid

import orjson
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parley.core import metrics
from parley.core.db import statement_counter
from parley.core.errors import PayloadTooLarge
from parley.core.logging import request_id_var

access_log = logging.getLogger("parley.access")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, count_sql: bool) -> None:
        self.app = app
        self.count_sql = count_sql

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming[:64] if incoming.isprintable() and incoming else uuid.uuid4().hex
        id_token = request_id_var.set(request_id)
        cell = [0] if self.count_sql else None
        count_token = statement_counter.set(cell)
        started = time.perf_counter()
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers["x-request-id"] = request_id
                if cell is not None:
                    headers["x-sql-statements"] = str(cell[0])
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            elapsed = time.perf_counter() - started
            # The router leaves the matched route in the scope: its template, never the raw
            # path, labels the metric (ids would make a series per conversation).
            route = scope.get("route")
            metrics.http_request(
                getattr(route, "path_format", None) or "unmatched", scope["method"], status, elapsed
            )
            access_log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "durationMs": round(elapsed * 1000, 2),
                },
            )
            statement_counter.reset(count_token)
            request_id_var.reset(id_token)


class _BodyTooLarge(HTTPException):
    """Raised from `receive`: FastAPI re-raises HTTPExceptions met while reading the body."""

    def __init__(self) -> None:
        super().__init__(status_code=413)


class BodySizeLimitMiddleware:
    """Refuse request bodies above a limit with 413 before they are read into memory.

    `by_path` gives some paths a limit of their own: uploads stream to storage and are bounded
    by MAX_FILE_SIZE (plus the multipart framing), not by the JSON limit."""

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, by_path: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.by_path = dict(by_path or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.by_path.get(scope["path"].rstrip("/"), self.max_bytes)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await self._refuse(send, max_bytes)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise _BodyTooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await self._refuse(send, max_bytes)

    async def _refuse(self, send: Send, max_bytes: int) -> None:
        body = PayloadTooLarge(
            f"The request body is larger than {max_bytes} bytes", maxBytes=max_bytes
        ).to_body()
        payload = orjson.dumps(body)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
