"""The receipt events of the catalogue (core/events.py): name -> payload model."""

from __future__ import annotations

from parley.core.events import Event, EventName
from parley.inbox.schemas import DeliveryStatusEvent, ReadReceiptEvent

MESSAGE_READ_RECEIPT = Event(
    EventName.MESSAGE_READ_RECEIPT,
    ReadReceiptEvent,
    "A member read up to a message; to the conversation's room (when readReceipts is on).",
)
MESSAGE_DELIVERY_STATUS = Event(
    EventName.MESSAGE_DELIVERY_STATUS,
    DeliveryStatusEvent,
    "A recipient has a message (DELIVERED) or read it (READ); to the sender's sockets.",
)
