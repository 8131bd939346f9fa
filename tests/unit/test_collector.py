"""When the garbage-collector policy runs a full pass."""

from __future__ import annotations

import pytest

from parley.core.collector import FULL_PASS_EVERY, full_pass_due


@pytest.mark.parametrize(
    ("since", "at_freeze", "now", "due"),
    [
        (FULL_PASS_EVERY, 10_000, 10_000, True),  # the period is over
        (60.0, 10_000, 10_000, False),  # steady
        (60.0, 10_000, 11_000, False),  # growing
        (60.0, 10_000, 0, True),  # everything dropped at once
        (60.0, 10_000, 7_000, True),  # a quarter and more closed
        (60.0, 10_000, 8_000, False),  # less than a quarter
        (60.0, 1_000, 0, True),  # 1,000 closed: many, and all of them
        (60.0, 400, 0, False),  # too few to matter, whatever the share
    ],
)
def test_full_pass_due(since: float, at_freeze: int, now: int, due: bool) -> None:
    assert (
        full_pass_due(seconds_since_full_pass=since, sockets_at_freeze=at_freeze, sockets_now=now)
        is due
    )
