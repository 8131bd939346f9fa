"""Audit trail responses."""

from __future__ import annotations

import uuid
from typing import Any

from parley.core.schemas import ApiModel, Timestamp


class AuditEntryOut(ApiModel):
    id: uuid.UUID
    actor_id: uuid.UUID | None
    action: str
    conversation_id: uuid.UUID | None
    target_user_id: uuid.UUID | None
    message_id: uuid.UUID | None
    details: dict[str, Any]
    created_at: Timestamp
