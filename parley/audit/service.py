"""The audit trail: the only writer of `audit_log`."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from parley.audit.models import AuditEntry


def record(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID | None,
    action: str,
    conversation_id: uuid.UUID | None = None,
    target_user_id: uuid.UUID | None = None,
    message_id: uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Add an entry in the caller's transaction: it exists exactly when the change does."""
    session.add(
        AuditEntry(
            actor_id=actor_id,
            action=action,
            conversation_id=conversation_id,
            target_user_id=target_user_id,
            message_id=message_id,
            details=details or {},
        )
    )
