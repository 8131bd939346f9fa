"""Payloads of the client -> server socket events (server -> client payloads live in each
domain's schemas)."""

from __future__ import annotations

import uuid

from pydantic import Field

from parley.core.schemas import ApiModel, InputModel


class ConversationRef(InputModel):
    conversation_id: uuid.UUID


class MarkRead(InputModel):
    conversation_id: uuid.UUID
    message_id: uuid.UUID


class SyncRequest(InputModel):
    conversation_id: uuid.UUID
    after_seq: int = Field(ge=0, le=2**62)
    limit: int = Field(default=100, ge=1, le=500)


class TypingEvent(ApiModel):
    conversation_id: uuid.UUID
    user_id: uuid.UUID
    is_typing: bool


class ServerShutdownEvent(ApiModel):
    """The instance is stopping: reconnect (elsewhere) after this many milliseconds."""

    reconnect_after_ms: int = Field(ge=0)
