"""The rate-limit event of the catalogue (core/events.py): name -> payload model."""

from __future__ import annotations

from parley.core.events import Event, EventName
from parley.ratelimit.schemas import RateLimitExceededEvent

RATE_LIMIT_EXCEEDED = Event(
    EventName.RATE_LIMIT_EXCEEDED,
    RateLimitExceededEvent,
    "A send was refused by a rate limit; to every socket of the sender.",
)
