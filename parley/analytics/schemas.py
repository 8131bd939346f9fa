"""Output of `GET /conversations/{id}/analytics`."""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import Field

from parley.core.schemas import ApiModel


class AnalyticsDay(ApiModel):
    date: date
    messages: int
    active_members: int


class AnalyticsTotals(ApiModel):
    messages: int
    active_members: int


class EmojiCount(ApiModel):
    emoji: str
    count: int


class TagCount(ApiModel):
    tag: str
    count: int


class AnalyticsOut(ApiModel):
    """A conversation's figures over a period of whole UTC days (both ends included)."""

    conversation_id: uuid.UUID
    start: date = Field(alias="from")
    end: date = Field(alias="to")
    days: list[AnalyticsDay]
    totals: AnalyticsTotals
    median_first_response_seconds: float | None
    top_reactions: list[EmojiCount]
    top_hashtags: list[TagCount]
    read_rate: float | None
