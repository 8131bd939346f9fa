"""How long each outcome of a link preview lookup stays in the cache."""

from __future__ import annotations

import pytest

from parley.messages.schemas import LinkPreview
from parley.previews.fetch import Fetched, Outcome
from parley.previews.worker import (
    FAILURE_TTL_SECONDS,
    HIT_TTL_SECONDS,
    MISS_TTL_SECONDS,
    cache_ttl,
)


def test_a_found_preview_is_kept_longest() -> None:
    preview = LinkPreview(url="https://example.com/", title="Example")

    assert cache_ttl(Fetched(Outcome.FETCHED, preview)) == HIT_TTL_SECONDS


@pytest.mark.parametrize("outcome", [Outcome.TIMEOUT, Outcome.ERROR])
def test_a_failed_fetch_is_tried_again_within_a_minute(outcome: Outcome) -> None:
    assert cache_ttl(Fetched(outcome)) == FAILURE_TTL_SECONDS == 60


@pytest.mark.parametrize(
    "outcome",
    [
        Outcome.FETCHED,  # a page without preview tags
        Outcome.REFUSED_ADDRESS,
        Outcome.REFUSED_SCHEME,
        Outcome.TOO_LARGE,
        Outcome.NOT_HTML,
    ],
)
def test_a_page_without_a_preview_is_not_asked_again_for_a_while(outcome: Outcome) -> None:
    assert cache_ttl(Fetched(outcome)) == MISS_TTL_SECONDS > FAILURE_TTL_SECONDS
