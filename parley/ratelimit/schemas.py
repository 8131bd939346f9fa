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
    EDITS = "EDITS"
    REACTIONS = "REACTIONS"
    UPLOADS = "UPLOADS"
    EXPORTS = "EXPORTS"


class RateLimitExceededEvent(ApiModel):
    scope: Scope = Field(
        description="CONVERSATION (messages per conversation per minute), USER (messages per "
        "hour), EDITS or REACTIONS (per conversation per minute), REPORT (reports per hour), "
        "UPLOADS (attachments per hour), EXPORTS (data exports started per hour)"
    )
    limit: int = Field(description="Messages, edits or reactions allowed in the window")
    window_seconds: int
    retry_after_ms: int = Field(description="When the next one will be accepted")
    conversation_id: uuid.UUID | None = None
