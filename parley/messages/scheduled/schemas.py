"""Scheduled message requests and responses."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import Field

from parley.core.schemas import ApiModel, ClientTimestamp, InputModel, Timestamp


class ScheduledStatus(StrEnum):
    SCHEDULED = "SCHEDULED"  # waiting for its time; may be changed or cancelled
    SENDING = "SENDING"  # claimed by a dispatcher (a lease); retried if that instance dies
    SENT = "SENT"  # went through the send pipeline: `sentMessageId` names the message
    FAILED = "FAILED"  # refused at its time (`error` says why); not retried
    CANCELLED = "CANCELLED"  # cancelled by its owner


class ScheduledMessageOut(ApiModel):
    id: uuid.UUID
    conversation_id: uuid.UUID
    sender_id: uuid.UUID
    content: str | None
    type: str | None
    reply_to_id: uuid.UUID | None
    thread_id: uuid.UUID | None
    attachments: list[uuid.UUID]
    client_message_id: str | None
    encrypted: bool
    scheduled_at: Timestamp
    status: ScheduledStatus
    attempts: int
    sent_message_id: uuid.UUID | None
    error_code: str | None
    created_at: Timestamp
    updated_at: Timestamp


class ScheduledMessagePage(ApiModel):
    items: list[ScheduledMessageOut]
    next_cursor: str | None = None


class ScheduledMessageEdit(InputModel):
    content: str | None = Field(default=None, description="Up to MAX_MESSAGE_LENGTH characters")
    scheduled_at: ClientTimestamp | None = None


def as_utc(at: datetime) -> datetime:
    """A naive time is read as UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
