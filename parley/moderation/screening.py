"""Screening on the send and edit paths: score, decide flag or hold, queue, alert reviewers.

A score at or above MODERATION_FLAG_THRESHOLD puts the text in the review queue and alerts the
conversation's moderators, admins and owner (`moderation.flagged`); the message is delivered
as usual. At or above MODERATION_HOLD_THRESHOLD a member's message is also held: it is stored
(it keeps its `seq`, so catch-up and unread counts stay exact) with status MODERATED, and
other members see it without content until a reviewer approves it. Reviewers' own messages
are queued but never held: someone above them decides.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from parley.conversations import service as conversations
from parley.conversations.permissions import Action, Membership
from parley.core import runtime
from parley.core.events import emit, emit_after_commit, user_room
from parley.messages.schemas import MessageOut
from parley.moderation.models import ModerationItem
from parley.moderation.schemas import ItemStatus, ModerationFlaggedEvent
from parley.moderation.scoring import Assessment, assess

# Longer texts are scored in a worker thread so one long message does not stall the loop.
SCORE_INLINE_UP_TO = 2000


@dataclass(frozen=True)
class Verdict:
    """A flagged text: its queue item's id (made before the commit) and whether it is held."""

    item_id: uuid.UUID
    assessment: Assessment
    held: bool


async def screen(content: str | None, *, membership: Membership, encrypted: bool) -> Verdict | None:
    """None for a text that passes (or is not screened: encrypted, or switched off)."""
    if encrypted or not content or not membership.moderation:
        return None
    if len(content) <= SCORE_INLINE_UP_TO:
        assessment = assess(content)
    else:
        assessment = await asyncio.to_thread(assess, content)
    settings = runtime.current().settings
    if assessment.score < settings.moderation_flag_threshold:
        return None
    held = assessment.score >= settings.moderation_hold_threshold and not membership.may(
        Action.REVIEW_FLAGGED_CONTENT
    )
    return Verdict(item_id=uuid.uuid4(), assessment=assessment, held=held)


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


def _event(message: MessageOut, verdict: Verdict) -> ModerationFlaggedEvent:
    return ModerationFlaggedEvent(
        message=message,
        score=verdict.assessment.score,
        reasons=list(verdict.assessment.reasons),
        terms=list(verdict.assessment.terms),
        held=verdict.held,
        queue_item_id=verdict.item_id,
    )


async def announce(message: MessageOut, verdict: Verdict) -> None:
    """After the commit: alert the reviewers' sockets (the committer's announcer calls this)."""
    async with runtime.current().db.sessions() as session:
        rooms = await _reviewer_rooms(session, message)
    if rooms:
        await emit("moderation.flagged", _event(message, verdict), rooms=rooms)


async def announce_after_commit(
    session: AsyncSession, message: MessageOut, verdict: Verdict
) -> None:
    """For a flagged edit: the alert leaves with the edit's transaction."""
    rooms = await _reviewer_rooms(session, message)
    if rooms:
        emit_after_commit(session, "moderation.flagged", _event(message, verdict), rooms=rooms)


async def _reviewer_rooms(session: AsyncSession, message: MessageOut) -> list[str]:
    reviewers = await conversations.reviewer_ids(session, conversation_id=message.conversation_id)
    return [user_room(user_id) for user_id in reviewers]
