"""A member reports a message: it goes to the review queue and the reviewers are alerted.

Scoring cannot read end-to-end encrypted messages, so there reports are how abuse reaches the
reviewers; they work in every conversation, for what scoring missed. The item is decided like
a flagged one (`moderation/actions.py`), and the report is in the audit trail.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from parley.conversations.permissions import may_read_held
from parley.core.audit import AuditAction, record
from parley.core.db import utcnow
from parley.core.errors import MessageDeleted, MessageNotFound, PermissionDenied
from parley.messages.pipeline import announce_flagged_after_commit
from parley.messages.queries import load_visible
from parley.messages.render import render
from parley.messages.schemas import MessageStatus, ReportCreate, ReportOut
from parley.ratelimit.service import limiter as rate_limits
from parley.screening import queue
from parley.screening.scoring import Assessment
from parley.screening.screen import Verdict


async def report_message(
    session: AsyncSession, *, user_id: uuid.UUID, message_id: uuid.UUID, data: ReportCreate
) -> tuple[ReportOut, bool]:
    """Any member who reads a message may report it, not their own, once: a repeat answers the
    first report (and False: nothing new). New reports count against
    RATE_LIMIT_REPORTS_PER_HOUR."""
    message, membership = await load_visible(session, user_id=user_id, message_id=message_id)
    if message.sender_id == user_id:
        raise PermissionDenied("You cannot report your own message", reason="OWN_MESSAGE")
    if message.deleted_at is not None:
        raise MessageDeleted()
    if message.status == MessageStatus.MODERATED and not may_read_held(
        membership.role, membership.user_id, message.sender_id
    ):
        raise PermissionDenied("The message is held for review", reason="HELD_FOR_REVIEW")
    earlier = await queue.find_report(session, message_id=message.id, reporter_id=user_id)
    if earlier is not None:
        return _report_out(earlier), False
    await rate_limits().check_report(user_id=user_id)
    item = await queue.add_report(
        session,
        message_id=message.id,
        conversation_id=message.conversation_id,
        sender_id=message.sender_id,
        message_version=message.version,
        content=message.content,
        reporter_id=user_id,
        reason=data.reason,
        note=data.note,
        at=utcnow(),
    )
    if item is None:  # the same report raced in from another request: answer that one
        earlier = await queue.find_report(session, message_id=message.id, reporter_id=user_id)
        if earlier is not None:
            return _report_out(earlier), False
        raise MessageNotFound(messageId=str(message_id))  # gone between the two statements
    record(
        session,
        actor_id=user_id,
        action=AuditAction.MESSAGE_REPORTED,
        conversation_id=message.conversation_id,
        message_id=message.id,
        target_user_id=message.sender_id,
        details={"itemId": str(item.id), "reason": str(data.reason)},
    )
    flagged = Verdict(
        item_id=item.id, assessment=Assessment(score=item.score, reasons=item.reasons), held=False
    )
    await announce_flagged_after_commit(session, (await render(session, [message]))[0], flagged)
    return _report_out(item), True


def _report_out(report: queue.Report) -> ReportOut:
    return ReportOut(
        id=report.id,
        message_id=report.message_id,
        conversation_id=report.conversation_id,
        reason=report.reason,
        note=report.note,
        created_at=report.created_at,
    )
