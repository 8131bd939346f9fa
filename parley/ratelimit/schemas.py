"""The `rate_limit.exceeded` event; its fields are also the 429's `details`."""

from __future__ import annotations

import uuid
from enum import StrEnum

from pydantic import Field

from parley.core.schemas import ApiModel


class Scope(StrEnum):
    CONVERSATION = "CONVERSATION"
    USER = "USER"
    REPORT = "REPORT"


class RateLimitExceededEvent(ApiModel):
    scope: Scope = Field(
        description="CONVERSATION (per conversation per minute), USER (per hour) or REPORT "
        "(message reports per hour)"
    )
    limit: int = Field(description="Messages allowed in the window")
    window_seconds: int
    retry_after_ms: int = Field(description="When a send will be accepted again")
    conversation_id: uuid.UUID | None = None
