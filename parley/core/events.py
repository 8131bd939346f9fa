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

from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

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


async def emit(event: Event[PayloadT], payload: PayloadT, *, rooms: list[str]) -> None:
    """Emit now: only for code that runs after its own commit (the message committer)."""
    body = payload.model_dump(mode="json", by_alias=True)
    await runtime.current().publisher.emit(event.name, body, rooms=rooms)


def emit_after_commit(
    session: AsyncSession, event: Event[PayloadT], payload: PayloadT, *, rooms: list[str]
) -> None:
    """Queue an event that leaves only if the session's transaction commits."""

    async def _send() -> None:
        await emit(event, payload, rooms=rooms)

    after_commit(session, _send)
