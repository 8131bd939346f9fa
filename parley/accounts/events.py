"""The accounts entries of the event catalogue (core/events.py): name -> payload model."""

from __future__ import annotations

from parley.accounts.schemas import SessionRevokedEvent
from parley.core.events import Event, EventName

SESSION_REVOKED = Event(
    EventName.SESSION_REVOKED,
    SessionRevokedEvent,
    "The token a socket connected with was revoked (POST /auth/logout); to the sockets that "
    "connected with it, which the server then disconnects.",
)
