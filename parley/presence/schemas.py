"""Presence event payloads."""

from __future__ import annotations

import uuid

from parley.accounts.schemas import UserStatus
from parley.core.schemas import ApiModel, Timestamp


class UserStatusEvent(ApiModel):
    user_id: uuid.UUID
    status: UserStatus
    last_seen_at: Timestamp | None
