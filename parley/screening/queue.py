"""The review queue's items: added by the send and edit paths, decided by moderation.

The one writer of `moderation_items`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from parley.core.pagination import after_time_cursor
from parley.screening.models import ModerationItem
from parley.screening.schemas import ItemStatus
from parley.screening.screen import Verdict


def queue_row(
    verdict: Verdict,
    *,
    message_id: uuid.UUID,
    conversation_id: uuid.UUID,
    sender_id: uuid.UUID,
    message_version: int,
    content: str | None,
    at: datetime,
) -> dict[str, Any]:
    return {
        "id": verdict.item_id,
        "message_id": message_id,
        "conversation_id": conversation_id,
        "sender_id": sender_id,
        "message_version": message_version,
        "content": content,
        "score": verdict.assessment.score,
        "reasons": list(verdict.assessment.reasons),
        "terms": list(verdict.assessment.terms),
        "held": verdict.held,
        "status": str(ItemStatus.PENDING),
        "created_at": at,
        "decided_by": None,
        "decided_at": None,
        "note": None,
    }


async def add_to_queue(connection: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Insert queue items in the caller's transaction (the committer's batch, or an edit's)."""
    if rows:
        await connection.execute(insert(ModerationItem.__table__), rows)  # type: ignore[arg-type]


def items_newest_first(
    *,
    conversation_ids: Select[uuid.UUID] | list[uuid.UUID],
    status: ItemStatus | None,
    before: str | None,
    limit: int,
) -> Select[ModerationItem]:
    """Items of these conversations, newest first, from the `before` cursor on."""
    statement = (
        select(ModerationItem)
        .where(ModerationItem.conversation_id.in_(conversation_ids))
        .order_by(ModerationItem.created_at.desc(), ModerationItem.id.desc())
        .limit(limit)
    )
    if status is not None:
        statement = statement.where(ModerationItem.status == status)
    if before is not None:
        statement = statement.where(
            after_time_cursor(before, ModerationItem.created_at, ModerationItem.id, descending=True)
        )
    return statement


async def lock_item(session: AsyncSession, *, item_id: uuid.UUID) -> ModerationItem | None:
    """The item, locked for a decision (two reviewers deciding at once: one waits)."""
    return await session.scalar(
        select(ModerationItem).where(ModerationItem.id == item_id).with_for_update()
    )


async def close_items(
    session: AsyncSession,
    item: ModerationItem,
    *,
    outcome: ItemStatus,
    decided_by: uuid.UUID,
    at: datetime,
    note: str | None,
) -> None:
    """Decide `item` and every other pending item of the same message alike."""
    item.status = outcome
    item.decided_by = decided_by
    item.decided_at = at
    item.note = note
    await session.execute(
        update(ModerationItem)
        .where(
            ModerationItem.message_id == item.message_id,
            ModerationItem.status == ItemStatus.PENDING,
            ModerationItem.id != item.id,
        )
        .values(status=outcome, decided_by=decided_by, decided_at=at, note=note)
    )
