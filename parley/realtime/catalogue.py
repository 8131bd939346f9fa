"""The whole catalogue of server -> client events: every `EventName` with its payload model.

Each domain declares its entries next to their payloads (`<domain>/events.py`); this module
lists them all (realtime is above every domain) for the documentation and the tests, which
check that every name has exactly one entry and every payload its fields.
"""

from __future__ import annotations

from typing import Any

from parley.accounts import events as accounts
from parley.conversations import events as conversations
from parley.core.events import Event, EventName
from parley.inbox import events as inbox
from parley.messages import events as messages
from parley.presence import events as presence
from parley.ratelimit import events as ratelimit
from parley.realtime.schemas import ServerShutdownEvent, TypingEvent

USER_TYPING = Event(
    EventName.USER_TYPING,
    TypingEvent,
    "Someone started or stopped typing; to the conversation's room but the typist's sockets.",
)

SERVER_SHUTDOWN = Event(
    EventName.SERVER_SHUTDOWN,
    ServerShutdownEvent,
    "The instance is stopping (graceful shutdown): to each of its sockets, with a delay drawn "
    "per socket; reconnect, to another instance when there is one, once it has passed. The "
    "server disconnects the socket a moment later.",
)

ENTRIES: tuple[Event[Any], ...] = (
    messages.NEW_MESSAGE,
    messages.MESSAGE_CONFIRMED,
    messages.MESSAGE_FAILED,
    messages.MESSAGE_UPDATED,
    messages.MESSAGE_DELETED,
    messages.REACTION_ADDED,
    messages.REACTION_REMOVED,
    messages.MODERATION_FLAGGED,
    inbox.MESSAGE_READ_RECEIPT,
    inbox.MESSAGE_DELIVERY_STATUS,
    conversations.CONVERSATION_UPDATED,
    conversations.PARTICIPANT_ADDED,
    conversations.PARTICIPANT_UPDATED,
    conversations.PARTICIPANT_REMOVED,
    presence.USER_STATUS_CHANGED,
    ratelimit.RATE_LIMIT_EXCEEDED,
    USER_TYPING,
    accounts.SESSION_REVOKED,
    SERVER_SHUTDOWN,
)

CATALOGUE: dict[EventName, Event[Any]] = {entry.name: entry for entry in ENTRIES}
