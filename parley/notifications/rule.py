"""Who is notified of a message, and what the push may show of it (pure functions).

The rule (docs/api.md, Notifications), for each `ACTIVE` member of an `ACTIVE` conversation
other than the sender, for a committed message that is not held for review:
- `level: NONE`, or `mutedUntil` in the future: never;
- `level: ALL`: every message;
- `level: MENTIONS`: messages that @mention them or contain one of their `keywords` (whole
  words, any case);
and only while they have no live socket on any instance (checked by the caller).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from parley.conversations.schemas import NotificationLevel, NotificationSettings
from parley.messages.schemas import MessageOut, MessageStatus

PREVIEW_CHARACTERS = 100
ENCRYPTED_PREVIEW = "New encrypted message"
WITHOUT_TEXT_PREVIEW = "New message"
ATTACHMENT_PREVIEW = "New attachment"


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a member is notified: `mentioned` when the message @mentions them."""

    mentioned: bool


def mentioned_user_ids(message: MessageOut) -> frozenset[uuid.UUID]:
    """The members the message @mentions (resolved by the committer)."""
    return frozenset(uuid.UUID(value) for value in message.metadata.get("mentionedUserIds", []))


@lru_cache(maxsize=4096)
def _keyword_pattern(keyword: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){re.escape(keyword)}(?!\w)", re.IGNORECASE)


def matches_keyword(content: str | None, keywords: list[str]) -> bool:
    """A keyword occurs as a whole word (any case); never in encrypted content."""
    return bool(content) and any(
        _keyword_pattern(keyword).search(content or "") for keyword in keywords
    )


def reason_to_notify(
    message: MessageOut,
    *,
    recipient_id: uuid.UUID,
    settings: NotificationSettings,
    mentioned: frozenset[uuid.UUID],
    now: datetime,
) -> Reason | None:
    """The rule above, but presence: why `recipient_id` is notified of `message`, or None."""
    if recipient_id == message.sender_id or not notifiable(message):
        return None
    if settings.level == NotificationLevel.NONE:
        return None
    if settings.muted_until is not None and settings.muted_until > now:
        return None
    is_mentioned = recipient_id in mentioned
    if settings.level == NotificationLevel.ALL:
        return Reason(mentioned=is_mentioned)
    content = None if message.encrypted else message.content
    if is_mentioned or matches_keyword(content, settings.keywords):
        return Reason(mentioned=is_mentioned)
    return None


def notifiable(message: MessageOut) -> bool:
    """Committed and visible to members: not held for review, deleted or failed."""
    return message.status in (MessageStatus.SENT, MessageStatus.EDITED)


def preview(message: MessageOut) -> str:
    """What the push may show: the first characters of plain text; never encrypted or held
    content."""
    if message.encrypted:
        return ENCRYPTED_PREVIEW
    if message.status == MessageStatus.MODERATED:
        return WITHOUT_TEXT_PREVIEW
    text = " ".join((message.content or "").split())
    if not text:
        return ATTACHMENT_PREVIEW if message.attachments else WITHOUT_TEXT_PREVIEW
    if len(text) <= PREVIEW_CHARACTERS:
        return text
    return text[: PREVIEW_CHARACTERS - 1].rstrip() + "…"
