"""bench/w2.py's pure parts: the conversation sizes, a step's figures from its record, the
highest rate within the goals, and cache hit rates per layer from /metrics text."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from bench.w2 import (
    CLIENT_MESSAGE_ID,
    StepFigures,
    StepRecord,
    _ack_status,
    _key_in,
    assign_members,
    cache_counters,
    cache_hit_rates,
    cache_lookups,
    conversation_sizes,
    highest_rate,
    layers_under_goal,
    parse_rates,
    summarize_step,
    within_goals,
)


def test_sizes_stay_in_range_skew_small_and_repeat_with_the_seed() -> None:
    sizes = conversation_sizes(2000, 2, 50, 1.8, random.Random(2))
    assert sizes == conversation_sizes(2000, 2, 50, 1.8, random.Random(2))
    assert len(sizes) == 2000
    assert min(sizes) == 2 and max(sizes) == 50
    counts = Counter(sizes)
    assert counts[2] > counts[3] > counts[10] > counts[40]
    assert 4 < sum(sizes) / len(sizes) < 10
    assert sum(size <= 3 for size in sizes) > 0.4 * len(sizes)


def test_a_small_run_still_has_both_ends() -> None:
    assert sorted(conversation_sizes(2, 2, 50, 1.8, random.Random(0))) == [2, 50]
    assert conversation_sizes(1, 2, 7, 1.8, random.Random(0)) == [7]
    with pytest.raises(ValueError):
        conversation_sizes(5, 1, 50, 1.8, random.Random(0))


def test_members_are_distinct_users_capped_by_the_user_count() -> None:
    members = assign_members([2, 5, 50], 10, random.Random(1))
    assert [len(group) for group in members] == [2, 5, 10]
    assert all(len(set(group)) == len(group) for group in members)
    assert all(0 <= user < 10 for group in members for user in group)


def test_rates_parse_and_refuse_nonsense() -> None:
    assert parse_rates("25, 50,100") == [25.0, 50.0, 100.0]
    for text in ("", "0", "10,-5", "a"):
        with pytest.raises(ValueError):
            parse_rates(text)


def test_step_figures_from_the_record() -> None:
    record = StepRecord(rate=2.0, send_seconds=2.0)
    record.due = {"a": 0.0, "b": 0.5, "c": 1.0, "d": 1.5}
    record.acks = {"a": (0.004, "ok"), "b": (0.51, "ok"), "c": (1.2, "SERVICE_UNAVAILABLE")}
    record.confirms = {"a": 0.02, "b": 0.53, "zz": 9.0}  # zz: not this step's
    record.deliveries = [0.01, 0.02, 0.03]
    record.expected = 6
    record.excused = 2
    record.acks_cut = 1  # d's socket closed before its ack
    figures = summarize_step(record)
    assert figures.sent == 4
    assert figures.achieved == 2.0
    assert figures.acked == 2
    assert figures.unacked == 0
    assert figures.ack_p50 == pytest.approx(4.0)
    assert figures.ack_p99 == pytest.approx(10.0)
    assert figures.confirmed == 2
    assert figures.confirm_p99 == pytest.approx(30.0)
    assert figures.delivery_p50 == pytest.approx(20.0)
    assert figures.lost == 1  # 6 expected - 3 delivered - 2 excused
    assert figures.send_errors == {"SERVICE_UNAVAILABLE": 1}
    assert math.isnan(figures.history_p50)


def _step(rate: float, ack_p99: float, delivery_p99: float, **changes: object) -> StepFigures:
    record = StepRecord(rate=rate, send_seconds=1.0)
    record.due = {str(n): 0.0 for n in range(int(rate))}
    record.acks = {key: (0.001, "ok") for key in record.due}
    figures = summarize_step(record)
    figures.ack_p99 = ack_p99
    figures.delivery_p99 = delivery_p99
    for name, value in changes.items():
        setattr(figures, name, value)
    return figures


def test_the_highest_rate_is_the_highest_step_within_every_goal() -> None:
    steps = [
        _step(25, 5.0, 10.0),
        _step(50, 8.0, 29.0),
        _step(100, 19.0, 31.0),  # delivery over its goal
        _step(200, 30.0, 40.0),
    ]
    assert highest_rate(steps) == 50
    assert highest_rate(steps, ack_goal=20, delivery_goal=35) == 100
    assert highest_rate(steps[2:]) is None
    assert highest_rate([]) is None


def test_a_step_that_lost_refused_or_fell_behind_is_not_within_the_goals() -> None:
    assert within_goals(_step(50, 5.0, 10.0))
    assert not within_goals(_step(50, 5.0, 10.0, lost=1))
    assert not within_goals(_step(50, 5.0, 10.0, unacked=1))
    assert not within_goals(_step(50, 5.0, 10.0, send_errors={"RATE_LIMITED": 1}))
    assert not within_goals(_step(50, 5.0, 10.0, achieved=40.0))
    assert not within_goals(_step(50, math.nan, 10.0))


METRICS_BEFORE = """\
# HELP parley_cache_hits_total Cache lookups answered from the cache
# TYPE parley_cache_hits_total counter
parley_cache_hits_total{backend="redis",cache="user"} 100.0
parley_cache_hits_total{backend="memory",cache="user"} 10.0
parley_cache_hits_total{backend="redis",cache="member"} 50.0
parley_cache_hits_created{backend="redis",cache="member"} 1.7e9
parley_cache_misses_total{backend="redis",cache="user"} 5.0
parley_cache_misses_total{backend="redis",cache="member"} 50.0
parley_cache_misses_total{backend="redis",cache="sent"} 7.0
"""

METRICS_AFTER = """\
parley_cache_hits_total{backend="redis",cache="user"} 1090.0
parley_cache_hits_total{backend="memory",cache="user"} 10.0
parley_cache_hits_total{backend="redis",cache="member"} 140.0
parley_cache_misses_total{backend="redis",cache="user"} 15.0
parley_cache_misses_total{backend="redis",cache="member"} 60.0
parley_cache_misses_total{backend="redis",cache="sent"} 107.0
parley_cache_hits_total{backend="redis",cache="conversation"} 0.0
"""


def test_cache_counters_sum_backends_per_layer() -> None:
    assert cache_counters(METRICS_BEFORE) == {
        "user": (110.0, 5.0),
        "member": (50.0, 50.0),
        "sent": (0.0, 7.0),
    }


def test_hit_rates_over_a_step_and_the_layers_under_the_goal() -> None:
    rates = cache_hit_rates(cache_counters(METRICS_BEFORE), cache_counters(METRICS_AFTER))
    assert rates["user"] == pytest.approx(990 / 1000)
    assert rates["member"] == pytest.approx(0.9)
    assert rates["sent"] == 0.0
    assert rates["conversation"] is None  # no lookups in the step
    # `sent` is a negative lookup (a new clientMessageId): its misses are the normal answer.
    assert layers_under_goal(rates) == ["member"]


def test_lookups_per_layer_over_a_step() -> None:
    assert cache_lookups(cache_counters(METRICS_BEFORE), cache_counters(METRICS_AFTER)) == {
        "conversation": 0,
        "member": 100,
        "sent": 100,
        "user": 1000,
    }


def test_keys_are_found_in_frames_as_text_and_acks_read_their_status() -> None:
    marker = CLIENT_MESSAGE_ID + "w2ab12"
    new_message = (
        '42["new_message",{"message":{"id":"m1","content":"W2 w2ab12-7",'
        '"clientMessageId":"w2ab12-7","replyTo":null}}]'
    )
    assert _key_in(new_message, marker) == "w2ab12-7"
    assert _key_in('42["message_confirmed",{"clientMessageId":"w2ab12-8"}]', marker) == "w2ab12-8"
    assert _key_in('42["new_message",{"message":{"clientMessageId":"other-1"}}]', marker) is None
    assert _ack_status('[{"ok":true,"message":{"status":"PENDING"}}]') == "ok"
    assert _ack_status('[{"ok":false,"error":{"code":"SERVICE_UNAVAILABLE"}}]') == (
        "SERVICE_UNAVAILABLE"
    )
    assert _ack_status("[]") == "BAD_ACK"
