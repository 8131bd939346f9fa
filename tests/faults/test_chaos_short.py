"""The chaos run, short (bench/chaos.py, one fault of each kind): two instances behind nginx on a
private PostgreSQL and Redis, SDK clients sending and receiving while one instance is SIGKILLed,
PostgreSQL restarted, Redis restarted and Redis paused. Nothing is lost or stored twice, every
outbox drains and every receiver is handed every message of its conversation."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from bench.chaos import Cluster, run, short_faults
from tests.conftest import BACKEND

pytestmark = pytest.mark.skipif(
    BACKEND != "postgres",
    reason="two instances behind nginx on a private PostgreSQL and Redis (the postgres backend)",
)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with Cluster() as running:
        yield running
    shutil.rmtree(running.logs, ignore_errors=True)


async def test_one_fault_of_each_kind_loses_nothing_and_heals(cluster: Cluster) -> None:
    report = await run(
        cluster,
        seconds=30,
        clients=6,
        conversations=2,
        rate=1.0,
        faults=short_faults(),
        drain=20.0,  # bounds the waits for outboxes and receivers (they end when done)
    )
    summary = "\n".join(report.lines())
    assert [kind for _, kind, _ in report.faults] == [kind for _, kind in short_faults()]
    assert report.sent > 100, summary
    assert report.lost == 0, summary
    assert report.duplicated == 0, summary
    assert report.failed == 0, summary
    assert report.pending_at_end == 0, summary
    assert report.drain_max <= 10.0, summary
    assert report.receivers_behind == 0, summary
    assert report.out_of_order == 0, summary
    assert report.stored == report.sent, summary
