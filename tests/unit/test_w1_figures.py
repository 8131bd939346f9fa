"""bench/w1.py's figures: nearest-rank percentiles, the split of sends, and what counts as
delivered or lost from the members' records."""

from __future__ import annotations

import math

import pytest

from bench.w1 import medians, percentile, ratios, split_messages, summarize


@pytest.mark.parametrize(
    ("fraction", "expected"),
    [(0.5, 50.0), (0.99, 99.0), (1.0, 100.0), (0.001, 1.0), (0.0, 1.0)],
)
def test_percentile_is_nearest_rank(fraction: float, expected: float) -> None:
    values = [float(v) for v in range(100, 0, -1)]
    assert percentile(values, fraction) == expected


def test_percentile_of_nothing_is_nan() -> None:
    assert math.isnan(percentile([], 0.5))


def test_sends_are_split_evenly_and_the_rest_goes_first() -> None:
    assert split_messages(2000, 10) == [200] * 10
    assert split_messages(7, 3) == [3, 2, 2]


def _member(
    index: int,
    sends: list[list[object]],
    received: list[list[object]],
    confirms: list[list[object]] | None = None,
) -> dict[str, object]:
    return {
        "index": index,
        "sends": sends,
        "confirms": confirms or [],
        "received": received,
        "duplicates": 0,
        "disconnects": 0,
    }


def test_summary_counts_deliveries_to_the_other_members_of_acked_sends_only() -> None:
    records = [
        # Member 0 sent a (acked) and b (refused); it also receives its own a, not counted.
        _member(
            0,
            [["a", 0.0, 4.0, "ok"], ["b", 4.0, 5.0, "RATE_LIMITED"]],
            [["a", 6.0], ["c", 30.0]],
            confirms=[["a", 8.0]],
        ),
        # Member 1 sent c (acked) and got a; member 2 got a and c; b reached nobody.
        _member(1, [["c", 10.0, 20.0, "ok"]], [["a", 7.0], ["c", 21.0]]),
        _member(2, [], [["a", 9.0], ["b", 9.5]]),
    ]

    figures = summarize("parley-postgres", 1, 3, records, expect_confirm=True)

    assert (figures.sent, figures.acked) == (3, 2)
    assert figures.send_errors == {"RATE_LIMITED": 1}
    assert figures.seconds == pytest.approx(0.020)  # first send at 0 ms, last ack at 20 ms
    assert figures.throughput == pytest.approx(100.0)
    assert (figures.ack_p50, figures.ack_p99) == (4.0, 10.0)
    assert (figures.confirmed, figures.confirm_p50) == (1, 8.0)
    # a at members 1 and 2, c at member 0 only: member 2 never got c.
    assert (figures.delivered, figures.expected, figures.lost) == (3, 4, 1)
    assert figures.delivery_p99 == 20.0


def test_bare_servers_have_no_confirm_figures_and_ratios_use_medians() -> None:
    bare = summarize("python-socketio", 1, 2, [_member(0, [["a", 0.0, 1.0, "ok"]], [])], False)
    assert bare.confirm_p50 is None and bare.confirmed is None
    by_system = {
        "python-socketio": {"throughput": 100.0},
        "node-socketio": {"throughput": 400.0},
        "parley-postgres": medians([bare, bare]) | {"throughput": 200.0},
    }
    assert ratios(by_system) == {"parley-postgres": {"python-socketio": 2.0, "node-socketio": 0.5}}


def test_delivery_p99_of_the_first_and_last_tenth_of_the_sends() -> None:
    # 20 sends, one every 10 ms: the first two are delivered after 5 ms, the last two after 50.
    sends = [[f"m{i}", 10.0 * i, 10.0 * i + 1, "ok"] for i in range(20)]
    delays = {0: 5.0, 1: 5.0, 18: 50.0, 19: 50.0}
    received = [[f"m{i}", 10.0 * i + delays.get(i, 20.0)] for i in range(20)]
    figures = summarize(
        "parley-postgres", 1, 2, [_member(0, sends, []), _member(1, [], received)], True
    )
    assert (figures.delivery_p99_first_tenth, figures.delivery_p99_last_tenth) == (5.0, 50.0)
    assert figures.delivery_p99 == 50.0
