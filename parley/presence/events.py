"""The presence event of the catalogue (core/events.py): name -> payload model."""

from __future__ import annotations

from parley.core.events import Event, EventName
from parley.presence.schemas import UserStatusEvent

USER_STATUS_CHANGED = Event(
    EventName.USER_STATUS_CHANGED,
    UserStatusEvent,
    "A user came online or went offline; to their own sockets and their conversations' rooms.",
)
