"""Screening on the send and edit paths: score, decide flag or hold.

A score at or above MODERATION_FLAG_THRESHOLD puts the text in the review queue (the caller
inserts `queue_row` in its own transaction) and the message's owner alerts the reviewers; the
message is delivered as usual. At or above MODERATION_HOLD_THRESHOLD a member's message is also
held: it is stored (it keeps its `seq`, so catch-up and unread counts stay exact) with status
MODERATED, and other members see it without content until a reviewer approves it. Reviewers'
own messages are queued but never held: someone above them decides.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

from parley.conversations.permissions import Action, Membership
from parley.core import metrics, runtime
from parley.screening.scoring import Assessment, assess

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
    (metrics.MODERATION_HELD if held else metrics.MODERATION_FLAGGED).inc()
    return Verdict(item_id=uuid.uuid4(), assessment=assessment, held=held)
