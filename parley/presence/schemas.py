"""Presence event payloads."""

from __future__ import annotations

import uuid
from typing import Literal

from parley.core.schemas import ApiModel, Timestamp


class UserStatusEvent(ApiModel):
    user_id: uuid.UUID
    status: Literal["ONLINE", "OFFLINE"]
    last_seen_at: Timestamp | None
