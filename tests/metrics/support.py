"""Reading /metrics in tests: parse the text format, wait for a value to move."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
DEADLINE_SECONDS = 10


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample `name{labels}`, 0 when absent."""
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape(
    client: httpx.AsyncClient, url: str = "/metrics", headers: dict[str, str] | None = None
) -> Samples:
    response = await client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


async def until(
    client: httpx.AsyncClient,
    condition: Callable[[Samples], bool],
    url: str = "/metrics",
    headers: dict[str, str] | None = None,
    seconds: float = DEADLINE_SECONDS,
) -> Samples:
    """Scrape until `condition` holds: values that follow a commit or an emit (the committer
    and the announcer run after the ack) or another worker's sampler land a moment later."""
    deadline = time.monotonic() + seconds
    while True:
        samples = await scrape(client, url, headers)
        if condition(samples):
            return samples
        assert time.monotonic() < deadline, "the metrics did not reach the expected values"
        await asyncio.sleep(0.05)
