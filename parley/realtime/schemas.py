"""Payloads of the client -> server socket events and of their acknowledgements (server ->
client payloads live in each domain's schemas)."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from parley.core.schemas import ApiModel, ErrorInfo, InputModel
from parley.messages.scheduled.schemas import ScheduledMessageOut
from parley.messages.schemas import MessageOut


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


class Ack(ApiModel):
    """A client event's acknowledgement when it succeeded: `{ok: true, ...}`."""

    # `ok` has a default but is always sent: the AsyncAPI document marks it required.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    ok: Literal[True] = True

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class SendAck(Ack):
    message: MessageOut = Field(
        description="As accepted (PENDING), or the stored one for a known clientMessageId"
    )


class ScheduledSendAck(Ack):
    scheduled_message: ScheduledMessageOut = Field(description="A send with scheduledAt")


class ReadAck(Ack):
    unread_count: int


class SyncAck(Ack):
    messages: list[MessageOut] = Field(description="After afterSeq, in ascending seq")
    has_more: bool = Field(description="Call again from the last seq while true")


class ErrorAck(BaseModel):
    """Any client event's acknowledgement when it failed: the REST error body with `ok:
    false` (the same codes as REST)."""

    ok: Literal[False]
    error: ErrorInfo


class ServerShutdownEvent(ApiModel):
    """The instance is stopping: reconnect (elsewhere) after this many milliseconds."""

    reconnect_after_ms: int = Field(ge=0)
