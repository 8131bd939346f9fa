"""The accounts entries of the event catalogue (core/events.py): name -> payload model."""

from __future__ import annotations

from parley.accounts.schemas import SessionRevokedEvent
from parley.core.events import Event, EventName

SESSION_REVOKED = Event(
    EventName.SESSION_REVOKED,
    SessionRevokedEvent,
    "The token a socket connected with was revoked (logout, refresh, password change, logout "
    "everywhere: `reason` says which); to the sockets that "
    "connected with it, which the server then disconnects.",
)
