"""The webhook's payload for `notification.send` (docs/api.md, Notifications)."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field

from parley.core.schemas import ApiModel, Timestamp

NOTIFICATION_SEND: Literal["notification.send"] = "notification.send"
# The last items a push carries; `count` says how many the window held.
MAX_ITEMS = 5


class Recipient(ApiModel):
    user_id: uuid.UUID
    username: str


class NotificationItem(ApiModel):
    """One message, as the push may show it (never content of encrypted or held messages)."""

    message_id: uuid.UUID
    conversation_id: uuid.UUID
    conversation_name: str | None = Field(description="null for DIRECT conversations")
    sender_id: uuid.UUID | None
    sender_name: str | None = Field(description="The sender's display name, else username")
    preview: str
    mentioned: bool = Field(description="The message @mentions the recipient")
    sent_at: Timestamp


class WindowEntry(ApiModel):
    """What a batching window holds per message: the recipient travels with it, so the
    instance that flushes the window needs no lookup."""

    recipient: Recipient
    item: NotificationItem


class ConversationCount(ApiModel):
    conversation_id: uuid.UUID
    conversation_name: str | None
    count: int


class NotificationPayload(ApiModel):
    """The JSON body POSTed to NOTIFY_WEBHOOK_URL: one per recipient and window."""

    id: str = Field(description="Unique per delivery (the same across its retries)")
    type: Literal["notification.send"] = NOTIFICATION_SEND
    recipient: Recipient
    count: int = Field(description="Messages in this window")
    conversations: list[ConversationCount]
    items: list[NotificationItem] = Field(description=f"The last {MAX_ITEMS}, oldest first")
    created_at: Timestamp
