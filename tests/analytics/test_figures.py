"""Unit tests of the pure analytics helpers: the per-batch aggregate of the day counters,
read rate and first-response turns."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from parley.analytics import figures
from parley.conversations.counters import DailySend, aggregate_daily
from parley.core.errors import ValidationFailed

CONVERSATION = uuid.UUID(int=1)
ALICE, BOB = uuid.UUID(int=2), uuid.UUID(int=3)
MONDAY, TUESDAY = date(2026, 11, 30), date(2026, 12, 1)


def test_a_batch_over_two_days_is_one_row_per_day() -> None:
    sends = [
        DailySend(CONVERSATION, MONDAY, 7, ALICE),
        DailySend(CONVERSATION, MONDAY, 8, ALICE),
        DailySend(CONVERSATION, TUESDAY, 9, BOB),
        DailySend(CONVERSATION, TUESDAY, 10, ALICE),
        DailySend(CONVERSATION, TUESDAY, 11, None),
    ]
    stats, senders = aggregate_daily(sends)
    assert [(row["day"], row["messages"], row["first_seq"], row["last_seq"]) for row in stats] == [
        (MONDAY, 2, 7, 8),
        (TUESDAY, 3, 9, 11),
    ]
    assert sorted((row["day"], row["user_id"]) for row in senders) == sorted(
        [(MONDAY, ALICE), (TUESDAY, BOB), (TUESDAY, ALICE)]
    )


def test_read_rate_averages_members_over_messages() -> None:
    # Messages 11..20; pointers at 20 (all), 15 (5), 3 (none), 25 (all): 25 of 40.
    assert figures.read_rate([20, 15, 3, 25], first_seq=11, last_seq=20) == 25 / 40
    assert figures.read_rate([], first_seq=1, last_seq=5) is None
    assert figures.read_rate([5], first_seq=1, last_seq=0) is None


def test_first_response_counts_from_the_start_of_each_turn() -> None:
    start = datetime(2026, 12, 1, tzinfo=UTC)

    def at(seconds: int) -> datetime:
        return start + timedelta(seconds=seconds)

    exchange = [(ALICE, at(0)), (ALICE, at(30)), (BOB, at(90)), (ALICE, at(100))]
    assert figures.median_first_response(exchange) == 50.0  # 90 and 10
    assert figures.median_first_response([(ALICE, at(0)), (ALICE, at(5))]) is None


def test_period_defaults_and_bounds() -> None:
    assert figures.period(None, None, today=TUESDAY) == (TUESDAY - timedelta(days=29), TUESDAY)
    assert figures.period(MONDAY, MONDAY, today=TUESDAY) == (MONDAY, MONDAY)
    with pytest.raises(ValidationFailed):
        figures.period(TUESDAY, MONDAY, today=TUESDAY)
    with pytest.raises(ValidationFailed):
        figures.period(MONDAY - timedelta(days=366), MONDAY, today=TUESDAY)
