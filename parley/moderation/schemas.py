"""Review queue requests and responses."""

from __future__ import annotations

import uuid
from enum import StrEnum

from pydantic import Field

from parley.core.schemas import ApiModel, InputModel, Timestamp
from parley.screening.schemas import ItemStatus


class DecisionAction(StrEnum):
    APPROVE = "APPROVE"
    REJECT = "REJECT"


class DecisionRequest(InputModel):
    action: DecisionAction
    note: str | None = Field(default=None, max_length=2000)


class ModerationItemOut(ApiModel):
    id: uuid.UUID
    conversation_id: uuid.UUID
    message_id: uuid.UUID
    sender_id: uuid.UUID | None
    message_version: int = Field(description="The version of the message that was flagged")
    content: str | None = Field(description="The flagged text, as it was when flagged")
    score: float = Field(description="0 (clean) to 1")
    reasons: list[str]
    terms: list[str] = Field(description="The words and phrases that matched")
    held: bool = Field(description="Hidden from other members until approved")
    status: ItemStatus
    created_at: Timestamp
    decided_by: uuid.UUID | None = None
    decided_at: Timestamp | None = None
    note: str | None = Field(default=None, description="The reviewer's note on the decision")
    report_note: str | None = Field(
        default=None, description="A member's report: the reporter's note (reasons REPORTED_*)"
    )
