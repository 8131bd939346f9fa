"""Pure helpers of the analytics: the period, read rate and first-response times."""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from parley.core.errors import ValidationFailed

DEFAULT_DAYS = 30
MAX_DAYS = 366


def period(start: date | None, end: date | None, *, today: date) -> tuple[date, date]:
    """Both ends included; `to` defaults to today (UTC), `from` to 29 days before `to`."""
    end = end or today
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise ValidationFailed("`from` is after `to`", field="from")
    if (end - start).days + 1 > MAX_DAYS:
        raise ValidationFailed(f"The period is longer than {MAX_DAYS} days", field="from")
    return start, end


def read_rate(read_seqs: Sequence[int], *, first_seq: int, last_seq: int) -> float | None:
    """The share of members whose read pointer reached each message, averaged over the
    messages `first_seq..last_seq` (seqs have no gaps): per member, the messages at or below
    their pointer, without a row per message and member."""
    if not read_seqs or last_seq < first_seq:
        return None
    count = last_seq - first_seq + 1
    reached = sum(min(max(seq - first_seq + 1, 0), count) for seq in read_seqs)
    return reached / (count * len(read_seqs))


def median_first_response(messages: Sequence[tuple[uuid.UUID, datetime]]) -> float | None:
    """Median seconds from the start of a turn to the first message of another sender.

    `messages` are (sender, time) in seq order. A turn is a run of consecutive messages by one
    sender; it starts at the run's first message, and its response is the first message of
    the next run (always another sender). The last turn has no response yet and is left out.
    """
    waits: list[float] = []
    turn_sender: uuid.UUID | None = None
    turn_started: datetime | None = None
    for sender, at in messages:
        if sender == turn_sender:
            continue
        if turn_started is not None:
            waits.append(max((at - turn_started).total_seconds(), 0.0))
        turn_sender, turn_started = sender, at
    return statistics.median(waits) if waits else None
