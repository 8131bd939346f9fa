"""Search results: the message as every other endpoint renders it, plus where it matched."""

from __future__ import annotations

from pydantic import Field

from parley.core.schemas import ApiModel
from parley.messages.schemas import MessageOut


class SearchHit(MessageOut):
    """A message found by a search: `MessageOut`'s fields, plus `snippet` and `rank`."""

    snippet: str = Field(
        description="HTML: the matching part of the text, escaped, each matched word in "
        "<mark>...</mark>; safe to insert as HTML"
    )
    rank: float = Field(
        description="Relevance, higher is better; for ordering only (engine-specific scale)"
    )


class SearchPage(ApiModel):
    items: list[SearchHit]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; null on the last page"
    )
