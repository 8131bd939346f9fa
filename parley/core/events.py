"""The seam between domain actions and the real-time transport, and the catalogue of events.

Every server -> client event has one name in `EventName` and one `Event` spec (name -> payload
model) declared next to its payload in the owning domain's `events.py`; `emit` and
`emit_after_commit` take the spec, so mypy checks that each emit sends the payload its event
promises, and no emit names an event by a bare string. `realtime/catalogue.py` gathers every
spec (the full name -> payload table) for the documentation and the tests. Actions describe
what happened; `realtime/` supplies the publisher that carries it to sockets, so no domain
imports `realtime/`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

import orjson
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from parley.core import runtime
from parley.core.db import after_commit


class EventName(StrEnum):
    """Every event the server sends to clients: the contract's names, exactly."""

    NEW_MESSAGE = "new_message"
    MESSAGE_CONFIRMED = "message_confirmed"
    MESSAGE_FAILED = "message_failed"
    MESSAGE_UPDATED = "message_updated"
    MESSAGE_DELETED = "message_deleted"
    MESSAGE_READ_RECEIPT = "message_read_receipt"
    MESSAGE_DELIVERY_STATUS = "message_delivery_status"
    REACTION_ADDED = "reaction_added"
    REACTION_REMOVED = "reaction_removed"
    USER_TYPING = "user_typing"
    USER_STATUS_CHANGED = "user_status_changed"
    CONVERSATION_UPDATED = "conversation_updated"
    PARTICIPANT_ADDED = "participant_added"
    PARTICIPANT_UPDATED = "participant_updated"
    PARTICIPANT_REMOVED = "participant_removed"
    RATE_LIMIT_EXCEEDED = "rate_limit.exceeded"
    MODERATION_FLAGGED = "moderation.flagged"
    SESSION_REVOKED = "session_revoked"
    SERVER_SHUTDOWN = "server_shutdown"


log = logging.getLogger(__name__)

PayloadT = TypeVar("PayloadT", bound=BaseModel)


@dataclass(frozen=True)
class Event(Generic[PayloadT]):
    """One entry of the catalogue: an event's name and the model of its payload."""

    name: EventName
    payload: type[PayloadT]
    description: str = ""


def user_room(user_id: object) -> str:
    return f"user:{user_id}"


def conversation_room(conversation_id: object) -> str:
    return f"conversation:{conversation_id}"


def token_room(token_id: str) -> str:
    """The sockets that connected with one token (revoking it disconnects them)."""
    return f"token:{token_id}"


async def emit(
    event: Event[PayloadT],
    payload: PayloadT,
    *,
    rooms: list[str],
    except_rooms: list[str] | None = None,
) -> None:
    """Emit now: only for code that runs after its own commit (the message committer).

    Sockets in `except_rooms` do not get this copy (a member's own sockets, which get their
    own view of the change). A payload larger than EVENT_MAX_SIZE is not sent: one oversized
    broadcast would drop the slower recipients' sockets. Inputs are bounded so that none
    should get there; the error names the event and its size, never its content."""
    body = payload.model_dump(mode="json", by_alias=True)
    limit = runtime.current().settings.event_max_bytes
    size = len(orjson.dumps(body))
    if size > limit:
        log.error("event not sent: too large", extra={"event": str(event.name), "bytes": size})
        return
    await runtime.current().publisher.emit(event.name, body, rooms=rooms, except_rooms=except_rooms)


def emit_after_commit(
    session: AsyncSession,
    event: Event[PayloadT],
    payload: PayloadT,
    *,
    rooms: list[str],
    except_rooms: list[str] | None = None,
) -> None:
    """Queue an event that leaves only if the session's transaction commits."""

    async def _send() -> None:
        await emit(event, payload, rooms=rooms, except_rooms=except_rooms)

    after_commit(session, _send)
