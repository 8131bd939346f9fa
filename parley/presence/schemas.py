"""Presence event payloads, and people as a search shows them."""

from __future__ import annotations

import uuid

from parley.accounts.schemas import UserStatus
from parley.core.schemas import ApiModel, Timestamp


class UserStatusEvent(ApiModel):
    user_id: uuid.UUID
    status: UserStatus
    last_seen_at: Timestamp | None


class FoundUser(ApiModel):
    """A user found by `GET /users`: the public fields, and presence (`status`, `lastSeenAt`)
    only for oneself and people who share a conversation with the caller, as the events
    tell it (null for everyone else)."""

    id: uuid.UUID
    username: str
    display_name: str
    created_at: Timestamp
    status: UserStatus | None = None
    last_seen_at: Timestamp | None = None
