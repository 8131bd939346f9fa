"""The review queue's items: added by the send and edit paths and by members' reports,
decided by moderation.

The one writer of `moderation_items`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from parley.core.pagination import after_time_cursor
from parley.screening.models import ModerationItem
from parley.screening.schemas import ItemStatus, ReportReason
from parley.screening.screen import Verdict

# A report is a person's judgement, not a score: its item carries the top of the scale.
REPORT_SCORE = 1.0
REPORTED = "REPORTED_"


class Report(NamedTuple):
    """A member's report of a message: its queue item, as the reporter sees it."""

    id: uuid.UUID
    message_id: uuid.UUID
    conversation_id: uuid.UUID
    reason: ReportReason
    note: str | None
    created_at: datetime
    score: float
    reasons: list[str]


def _report(item: ModerationItem) -> Report:
    return Report(
        id=item.id,
        message_id=item.message_id,
        conversation_id=item.conversation_id,
        reason=ReportReason(item.reasons[0].removeprefix(REPORTED)),
        note=item.report_note,
        created_at=item.created_at,
        score=item.score,
        reasons=list(item.reasons),
    )


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


async def find_report(
    session: AsyncSession, *, message_id: uuid.UUID, reporter_id: uuid.UUID
) -> Report | None:
    """This reporter's report of this message, if they made one."""
    item = await session.scalar(
        select(ModerationItem).where(
            ModerationItem.message_id == message_id, ModerationItem.reporter_id == reporter_id
        )
    )
    return None if item is None else _report(item)


async def add_report(
    session: AsyncSession,
    *,
    message_id: uuid.UUID,
    conversation_id: uuid.UUID,
    sender_id: uuid.UUID | None,
    message_version: int,
    content: str | None,
    reporter_id: uuid.UUID,
    reason: ReportReason,
    note: str | None,
    at: datetime,
) -> Report | None:
    """Queue a member's report of a message in the caller's transaction; None when the same
    reporter's report of it got in first (one per reporter per message: a unique index)."""
    item = ModerationItem(
        id=uuid.uuid4(),
        message_id=message_id,
        conversation_id=conversation_id,
        sender_id=sender_id,
        message_version=message_version,
        content=content,
        score=REPORT_SCORE,
        reasons=[REPORTED + reason],
        terms=[],
        held=False,
        status=str(ItemStatus.PENDING),
        created_at=at,
        reporter_id=reporter_id,
        report_note=note,
    )
    try:
        async with session.begin_nested():
            session.add(item)
    except IntegrityError:
        return None
    return _report(item)


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
