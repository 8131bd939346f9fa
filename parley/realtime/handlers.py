"""Socket.IO connect authentication and the client -> server events (`catalogue.py`).

Transport only: every event calls the same domain services as the REST routes, and answers
through the acknowledgement, `{ok: true, ...}` (its models in `schemas.py`) or
`{ok: false, error: {code, message, details}}`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import socketio
from pydantic import BaseModel, ValidationError

from parley.accounts.dependencies import authenticate_token_until
from parley.conversations import access
from parley.core import metrics, runtime
from parley.core.config import Settings
from parley.core.errors import (
    AppError,
    TokenExpired,
    Unauthorized,
    ValidationFailed,
    is_dependency_failure,
    unexpected,
)
from parley.core.events import conversation_room, token_room, user_room
from parley.core.replica import acting_user
from parley.inbox import receipts
from parley.inbox.schemas import DeliveredRequest
from parley.messages import queries as messages
from parley.messages.actions.send import send_message as send
from parley.messages.gate import require_may_type
from parley.messages.scheduled.actions import schedule_message
from parley.messages.schemas import MessageCreate
from parley.presence.service import Presence
from parley.realtime import catalogue
from parley.realtime.admission import Admission
from parley.realtime.catalogue import USER_TYPING, ClientEvent
from parley.realtime.schemas import (
    Ack,
    ConversationRef,
    MarkRead,
    ReadAck,
    ScheduledSendAck,
    SendAck,
    SyncAck,
    SyncRequest,
    TypingEvent,
)
from parley.realtime.typing import TypingTracker

log = logging.getLogger(__name__)

AckBody = dict[str, Any]


def error_ack(error: AppError) -> AckBody:
    return {"ok": False, **error.to_body()}


def _token(environ: dict[str, Any], auth: Any) -> str | None:
    if isinstance(auth, dict) and isinstance(auth.get("token"), str) and auth["token"]:
        return str(auth["token"])
    header = str(environ.get("HTTP_AUTHORIZATION", ""))
    scheme, _, value = header.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


ModelT = TypeVar("ModelT", bound=BaseModel)


def _parse(model: type[ModelT], data: Any) -> ModelT:
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as error:
        raise ValidationFailed(
            "The event payload is not valid",
            errors=[
                {
                    "field": ".".join(str(p) for p in item["loc"]),
                    "message": item["msg"],
                    "type": item["type"],
                }
                for item in error.errors()
            ],
        ) from None


def _presence() -> Presence:
    return runtime.current().component(Presence)


CONCURRENT_ADMISSIONS = 64  # sockets being admitted (or let go) at once, see `connect`


def register_handlers(server: socketio.AsyncServer, settings: Settings) -> None:
    # Each connected socket's user: the disconnect handler must not read it from the
    # session, which is gone once the transport has closed (a client that leaves at once on
    # a server disconnect closes it while the handler waits).
    connected: dict[str, uuid.UUID] = {}
    admission = Admission(server, settings)
    admission.install()

    async def user_of(sid: str) -> uuid.UUID:
        session = await server.get_session(sid)
        if not session or "userId" not in session:
            raise Unauthorized()
        # Until the expiry timer disconnects the socket, its events are refused all the same.
        if session.get("expiresAt", 0.0) <= time.time():
            raise TokenExpired()
        return uuid.UUID(session["userId"])

    async def announce_typing(
        conversation_id: uuid.UUID, user_id: uuid.UUID, is_typing: bool
    ) -> None:
        payload = TypingEvent(conversation_id=conversation_id, user_id=user_id, is_typing=is_typing)
        # The typist's own sockets are left out: their user room is skipped by sid below.
        sids = [sid for sid, _ in server.manager.get_participants("/", user_room(user_id))]
        await server.emit(
            str(USER_TYPING.name),
            payload.model_dump(mode="json", by_alias=True),
            to=conversation_room(conversation_id),
            skip_sid=sids,
        )

    typing_tracker = TypingTracker(announce_typing, settings.typing_timeout_seconds)

    def event(
        spec: ClientEvent,
    ) -> Callable[[Callable[[str, uuid.UUID, Any], Awaitable[AckBody]]], None]:
        """Register a client event of the catalogue; its errors become error acknowledgements."""
        name = spec.name

        def register(handler: Callable[[str, uuid.UUID, Any], Awaitable[AckBody]]) -> None:
            async def run(sid: str, data: Any = None) -> AckBody:
                try:
                    user_id = await user_of(sid)
                    # Its commits are this user's writes (read-your-writes, core/replica.py).
                    acting_user.set(user_id)
                    return await handler(sid, user_id, data)
                except AppError as error:
                    return error_ack(error)
                except Exception as error:
                    # As REST answers: a database or Redis failure is SERVICE_UNAVAILABLE, which
                    # clients retry; anything else INTERNAL_ERROR.
                    if is_dependency_failure(error):
                        log.error("socket event: dependency failure", extra={"event": name})
                    else:
                        log.exception("socket event failed", extra={"event": name})
                    return error_ack(unexpected(error))

            server.on(name, run)

        return register

    # Admissions in progress at once. Each takes a few cache and database round trips; in a
    # reconnect storm thousands arrive together, and unbounded they all crawl (handshake p50
    # of seconds, the Redis pool emptied) where in turn each is quick: the rest wait here,
    # first come first served, within their transports' connect deadline.
    admitting = asyncio.Semaphore(CONCURRENT_ADMISSIONS)

    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        # Places (WS_MAX_CONNECTIONS) are taken by transports at their handshake, so a burst
        # of concurrent handshakes cannot overshoot the limit (realtime/admission.py).
        admission.take_place(sid)
        async with admitting:
            try:
                user_id, expires_at = await admit(sid, environ, auth)
            except BaseException:
                await admission.refused(sid)
                raise
            if not admission.admitted(sid, expires_at):
                # The transport closed (or timed out) while the socket was being admitted.
                await admission.refused(sid)
                raise socketio.exceptions.ConnectionRefusedError("UNAUTHORIZED: transport closed")
            connected[sid] = user_id
            metrics.SOCKETS_CONNECTED.inc()
            await _presence().socket_connected(user_id)

    async def admit(sid: str, environ: dict[str, Any], auth: Any) -> tuple[uuid.UUID, float]:
        if runtime.current().draining:
            # The instance is stopping (realtime/handover.py): the client tries another.
            raise socketio.exceptions.ConnectionRefusedError(
                "SERVICE_UNAVAILABLE: this server is shutting down"
            )
        token = _token(environ, auth)
        if token is None:
            raise socketio.exceptions.ConnectionRefusedError(
                "UNAUTHORIZED: send auth.token or an Authorization: Bearer header"
            )
        try:
            user, claims = await authenticate_token_until(token)
        except AppError as error:
            raise socketio.exceptions.ConnectionRefusedError(
                f"{error.code}: {error.message}"
            ) from None
        await admission.take_user_slot(sid, user.id)
        async with runtime.current().db.reads() as session:
            conversation_ids = await access.active_conversation_ids(session, user_id=user.id)
        await server.save_session(sid, {"userId": str(user.id), "expiresAt": claims.expires_at})
        await server.enter_room(sid, user_room(user.id))
        if claims.token_id is not None:
            await server.enter_room(sid, token_room(claims.token_id))
        for conversation_id in conversation_ids:
            await server.enter_room(sid, conversation_room(conversation_id))
        return user.id, claims.expires_at

    # Departures in progress at once, for the same reason: when a network cut drops
    # thousands together, unbounded they emptied the Redis pool ("socket count not
    # written", repaired later by the quota's renewal; seen in bench/w2.py).
    leaving = asyncio.Semaphore(CONCURRENT_ADMISSIONS)

    async def disconnect(sid: str, *_reason: Any) -> None:
        async with leaving:
            await admission.left(sid)
            user_id = connected.pop(sid, None)
            if user_id is None:
                return
            metrics.SOCKETS_CONNECTED.dec()
            try:
                await typing_tracker.socket_left(sid)
            except Exception as error:  # the indicator still ends at its expiry
                log.warning("typing stop on disconnect failed", extra={"error": repr(error)})
            await _presence().socket_disconnected(user_id)

    server.on("connect", connect)
    server.on("disconnect", disconnect)

    @event(catalogue.SEND_MESSAGE)
    async def send_message(_sid: str, user_id: uuid.UUID, data: Any) -> AckBody:
        started = time.perf_counter()
        body = _parse(MessageCreate, data)
        if body.scheduled_at is not None:
            scheduled = await schedule_message(sender_id=user_id, data=body)
            return ScheduledSendAck(scheduled_message=scheduled).dump()
        message, _ = await send(sender_id=user_id, data=body, wait=False)
        ack = SendAck(message=message).dump()
        metrics.ACK_SOCKET.observe(time.perf_counter() - started)
        return ack

    @event(catalogue.JOIN_CONVERSATION)
    async def join_conversation(sid: str, user_id: uuid.UUID, data: Any) -> AckBody:
        ref = _parse(ConversationRef, data)
        async with runtime.current().db.reads() as session:
            await access.get_membership(
                session, conversation_id=ref.conversation_id, user_id=user_id
            )
        await server.enter_room(sid, conversation_room(ref.conversation_id))
        return Ack().dump()

    @event(catalogue.LEAVE_CONVERSATION)
    async def leave_conversation(sid: str, _user_id: uuid.UUID, data: Any) -> AckBody:
        ref = _parse(ConversationRef, data)
        await server.leave_room(sid, conversation_room(ref.conversation_id))
        return Ack().dump()

    async def typing(sid: str, user_id: uuid.UUID, data: Any, is_typing: bool) -> AckBody:
        ref = _parse(ConversationRef, data)
        async with runtime.current().db.reads() as session:
            membership = await access.get_membership(
                session, conversation_id=ref.conversation_id, user_id=user_id
            )
        if is_typing:
            # Typing is a write others see: only where the member may send (the gate).
            require_may_type(membership)
            if membership.typing_indicators:
                await typing_tracker.start(ref.conversation_id, user_id, sid)
        else:
            # A stop is always taken: it only ever clears an indicator the room was shown.
            await typing_tracker.stop(ref.conversation_id, user_id)
        return Ack().dump()

    @event(catalogue.TYPING_START)
    async def typing_start(sid: str, user_id: uuid.UUID, data: Any) -> AckBody:
        return await typing(sid, user_id, data, True)

    @event(catalogue.TYPING_STOP)
    async def typing_stop(sid: str, user_id: uuid.UUID, data: Any) -> AckBody:
        return await typing(sid, user_id, data, False)

    @event(catalogue.MARK_MESSAGES_READ)
    async def mark_messages_read(_sid: str, user_id: uuid.UUID, data: Any) -> AckBody:
        request = _parse(MarkRead, data)
        async with runtime.current().db.unit_of_work() as session:
            participant = await receipts.mark_read(
                session,
                user_id=user_id,
                conversation_id=request.conversation_id,
                message_id=request.message_id,
            )
        return ReadAck(unread_count=participant.unread_count).dump()

    @event(catalogue.MESSAGE_DELIVERED)
    async def message_delivered(_sid: str, user_id: uuid.UUID, data: Any) -> AckBody:
        request = _parse(DeliveredRequest, data)
        async with runtime.current().db.unit_of_work() as session:
            await receipts.mark_delivered(session, user_id=user_id, message_ids=request.message_ids)
        return Ack().dump()

    @event(catalogue.SYNC)
    async def sync(_sid: str, user_id: uuid.UUID, data: Any) -> AckBody:
        request = _parse(SyncRequest, data)
        async with runtime.current().db.reads() as session:
            page = await messages.list_messages(
                session,
                user_id=user_id,
                conversation_id=request.conversation_id,
                limit=request.limit,
                before=None,
                after=None,
                after_seq=request.after_seq,
            )
        return SyncAck(messages=page.items, has_more=page.has_more).dump()
