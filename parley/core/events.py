"""The seam between domain services and the real-time transport.

Services describe what happened (`emit_after_commit`); `realtime/` supplies the publisher that
carries it to sockets. No domain imports `realtime/`.
"""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from parley.core import runtime
from parley.core.db import after_commit


class EventPublisher(Protocol):
    async def emit(self, event: str, payload: dict[str, Any], *, rooms: list[str]) -> None: ...


def user_room(user_id: object) -> str:
    return f"user:{user_id}"


def conversation_room(conversation_id: object) -> str:
    return f"conversation:{conversation_id}"


async def emit(event: str, payload: BaseModel, *, rooms: list[str]) -> None:
    """Emit now: only for code that runs after its own commit (the message committer)."""
    body = payload.model_dump(mode="json", by_alias=True)
    await runtime.current().publisher.emit(event, body, rooms=rooms)


def emit_after_commit(
    session: AsyncSession, event: str, payload: BaseModel, *, rooms: list[str]
) -> None:
    """Queue an event that leaves only if the session's transaction commits."""

    async def _send() -> None:
        await emit(event, payload, rooms=rooms)

    after_commit(session, _send)
