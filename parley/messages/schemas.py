"""Message requests and responses."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, Any

from pydantic import ConfigDict, Field, WithJsonSchema

from parley.core.schemas import ApiModel, ClientTimestamp, InputModel, Timestamp
from parley.screening.schemas import ReportReason


class MessageType(StrEnum):
    TEXT = "TEXT"
    IMAGE = "IMAGE"
    VIDEO = "VIDEO"
    AUDIO = "AUDIO"
    FILE = "FILE"
    SYSTEM = "SYSTEM"
    REPLY = "REPLY"
    FORWARD = "FORWARD"
    THREAD = "THREAD"
    ANNOUNCEMENT = "ANNOUNCEMENT"


class MessageStatus(StrEnum):
    PENDING = "PENDING"
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    READ = "READ"
    FAILED = "FAILED"
    DELETED = "DELETED"
    EDITED = "EDITED"
    MODERATED = "MODERATED"


# Made by the server only: clients may not send these types.
SERVER_ONLY_TYPES = frozenset({MessageType.SYSTEM, MessageType.FORWARD})
# Types that are about their files: a message of these types carries at least one attachment.
FILE_TYPES = frozenset({MessageType.IMAGE, MessageType.VIDEO, MessageType.AUDIO, MessageType.FILE})


class MessageCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "conversationId": "0b7f6c1e-3d2a-4f8b-9c5e-1a2b3c4d5e6f",
                    "content": "Hello @bob, the #release is out",
                    "clientMessageId": "c-7d41b2",
                }
            ]
        }
    )

    conversation_id: uuid.UUID
    content: str | None = Field(default=None, description="Up to MAX_MESSAGE_LENGTH characters")
    type: MessageType | None = Field(
        default=None, description="Defaults to REPLY with replyToId, else TEXT"
    )
    client_message_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="The client's id: the same sender + clientMessageId is the same message",
    )
    reply_to_id: uuid.UUID | None = None
    thread_id: uuid.UUID | None = None
    attachments: list[uuid.UUID] = Field(default_factory=list, max_length=10)
    client_timestamp: ClientTimestamp | None = Field(
        default=None, description="The client's clock; 1970-01-01 to 2100-01-01 in UTC"
    )
    scheduled_at: ClientTimestamp | None = None
    encrypted: bool = False


class MessageEdit(InputModel):
    content: str


# 1-32 characters, none of them a space or a control character (the rule the reaction action
# applies), written in the schema so clients and generated tests know it.
EMOJI_PATTERN = r"^[^\s\x00-\x1f\x7f-\x9f]+$"


class ReactionCreate(InputModel):
    emoji: str = Field(min_length=1, max_length=32, pattern=EMOJI_PATTERN)


class ForwardRequest(InputModel):
    conversation_ids: list[uuid.UUID] = Field(min_length=1, max_length=20)


class ReportCreate(InputModel):
    reason: ReportReason
    note: str | None = Field(
        default=None, max_length=1000, description="What the reviewers should know"
    )


class ReactionSummary(ApiModel):
    count: int
    user_ids: list[uuid.UUID]


class LinkPreview(ApiModel):
    """What a link in a message shows (docs/api.md, Link previews): from the page's OpenGraph,
    Twitter card or HTML title and description; a field the page does not give is null."""

    url: str = Field(description="The link as it is in `metadata.urls`")
    title: str | None = Field(default=None, max_length=300)
    description: str | None = Field(default=None, max_length=1000)
    image_url: str | None = Field(default=None, description="Absolute http(s) URL")
    site_name: str | None = Field(default=None, max_length=100)


def _metadata_schema() -> dict[str, Any]:
    """The documented shape of `metadata` (kept a plain dict at run time: its keys are
    written by several domains, and held or deleted messages show `{}`)."""
    strings = {"type": "array", "items": {"type": "string"}}
    return {
        "type": "object",
        "title": "MessageMetadata",
        "properties": {
            "mentions": {**strings, "description": "Usernames mentioned with @, lower-case"},
            "mentionedUserIds": {**strings, "description": "Those that name a user"},
            "hashtags": {**strings, "description": "Tags without #, lower-case"},
            "urls": {**strings, "description": "http(s) links; bare www. links as https://"},
            "urlPreviews": {
                "type": "array",
                "description": "Previews of the first links, filled after the commit "
                "(message_updated); empty until then, and for encrypted messages",
                "items": LinkPreview.model_json_schema(by_alias=True),
            },
        },
        "additionalProperties": True,
    }


class MessageOut(ApiModel):
    id: uuid.UUID
    conversation_id: uuid.UUID
    sender_id: uuid.UUID | None
    seq: int | None = Field(description="null until the message is committed")
    type: MessageType
    content: str | None
    status: MessageStatus
    reply_to_id: uuid.UUID | None = None
    thread_id: uuid.UUID | None = None
    forwarded_from_id: uuid.UUID | None = None
    attachments: list[dict[str, Any]] = Field(default_factory=list)
    metadata: Annotated[dict[str, Any], WithJsonSchema(_metadata_schema())] = Field(
        default_factory=dict
    )
    reactions: dict[str, ReactionSummary] = Field(default_factory=dict)
    delivery_tracker: dict[str, Any] | None = None
    client_message_id: str | None = None
    client_timestamp: Timestamp | None = None
    server_timestamp: Timestamp
    edited_at: Timestamp | None = None
    deleted_at: Timestamp | None = None
    encrypted: bool = False
    version: int = 1
    failure: dict[str, str] | None = Field(
        default=None, description="{code, message} when status is FAILED"
    )


class MessagePage(ApiModel):
    items: list[MessageOut]
    next_cursor: str | None = None
    has_more: bool = False


class ThreadPage(MessagePage):
    root: MessageOut


class MessageVersionOut(ApiModel):
    version: int
    content: str | None
    created_at: Timestamp
    current: bool = False


class MessageHistory(ApiModel):
    message_id: uuid.UUID
    items: list[MessageVersionOut]


class ReactionOut(ApiModel):
    message_id: uuid.UUID
    emoji: str
    user_id: uuid.UUID
    count: int
    reactions: dict[str, ReactionSummary]


class ForwardResult(ApiModel):
    items: list[MessageOut]


class ReportOut(ApiModel):
    """A member's report of a message, as its reporter sees it."""

    id: uuid.UUID = Field(description="The review queue item it made")
    message_id: uuid.UUID
    conversation_id: uuid.UUID
    reason: ReportReason
    note: str | None
    created_at: Timestamp


# Socket payloads (events.py style: one model per event)
class MessageEvent(ApiModel):
    message: MessageOut


class MessageConfirmedEvent(ApiModel):
    client_message_id: str | None
    message: MessageOut


class MessageFailedEvent(ApiModel):
    client_message_id: str | None
    # None for a scheduled message that failed at its time (no message was made).
    message_id: uuid.UUID | None
    error: dict[str, str]
    scheduled_message_id: uuid.UUID | None = None


class ReactionEvent(ApiModel):
    message_id: uuid.UUID
    emoji: str
    user_id: uuid.UUID
    count: int


class ModerationFlaggedEvent(ApiModel):
    """To the conversation's moderators, admins and owner."""

    message: MessageOut
    score: float
    reasons: list[str]
    terms: list[str]
    held: bool
    queue_item_id: uuid.UUID


class HashtagOut(ApiModel):
    """A tag in use (without `#`, lower-case) and how many readable messages carry it."""

    tag: str
    count: int


class HashtagPage(ApiModel):
    """Autocomplete: one bounded page, most used first; `nextCursor` is always null."""

    items: list[HashtagOut]
    next_cursor: str | None = None
