"""Read and delivery receipts: requests and event payloads."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field

from parley.conversations.schemas import DeliveryStatus
from parley.core.schemas import ApiModel, InputModel, Timestamp


class ReadRequest(InputModel):
    message_id: uuid.UUID


class ReadReceiptEvent(ApiModel):
    conversation_id: uuid.UUID
    user_id: uuid.UUID
    message_id: uuid.UUID
    read_at: Timestamp


class DeliveredRequest(InputModel):
    message_ids: list[uuid.UUID] = Field(min_length=1, max_length=500)


class DeliveryStatusEvent(ApiModel):
    message_id: uuid.UUID
    user_id: uuid.UUID
    status: Literal[DeliveryStatus.DELIVERED, DeliveryStatus.READ]
    at: Timestamp
