"""The whole catalogue of socket events: every server -> client `EventName` with its payload
model, and every client -> server event with its payload and acknowledgement models.

Each domain declares its server -> client entries next to their payloads (`<domain>/events.py`);
this module lists them all (realtime is above every domain), and the client -> server events
that `handlers.py` registers, for the AsyncAPI document (`asyncapi.py`) and the tests, which
check that every name has exactly one entry and every payload its fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from parley.accounts import events as accounts
from parley.conversations import events as conversations
from parley.core.events import Event, EventName
from parley.inbox import events as inbox
from parley.inbox.schemas import DeliveredRequest
from parley.messages import events as messages
from parley.messages.schemas import MessageCreate
from parley.presence import events as presence
from parley.ratelimit import events as ratelimit
from parley.realtime.schemas import (
    Ack,
    ConversationRef,
    MarkRead,
    ReadAck,
    ScheduledSendAck,
    SendAck,
    ServerShutdownEvent,
    SyncAck,
    SyncRequest,
    TypingEvent,
)

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


@dataclass(frozen=True)
class ClientEvent:
    """One client -> server event: its name, its payload model, the acknowledgement models it
    answers with when it succeeds (one of them; a failure answers `ErrorAck`), and what it
    does."""

    name: str
    payload: type[BaseModel]
    acks: tuple[type[Ack], ...]
    description: str


SEND_MESSAGE = ClientEvent(
    "send_message",
    MessageCreate,
    (SendAck, ScheduledSendAck),
    "Send a message: the same body, rules and answers as POST /messages. The ack comes before "
    "the commit (`status: PENDING`); `message_confirmed` or `message_failed` follows. With "
    "`scheduledAt` the message is scheduled instead and the ack carries `scheduledMessage`.",
)
JOIN_CONVERSATION = ClientEvent(
    "join_conversation",
    ConversationRef,
    (Ack,),
    "Hear a conversation's room again after leaving it (members only; a socket joins every "
    "conversation of its user when it connects).",
)
LEAVE_CONVERSATION = ClientEvent(
    "leave_conversation",
    ConversationRef,
    (Ack,),
    "Stop hearing a conversation's room on this socket (membership is unchanged).",
)
TYPING_START = ClientEvent(
    "typing_start",
    ConversationRef,
    (Ack,),
    "The user is typing: the room hears `user_typing` (throttled; where the member may send).",
)
TYPING_STOP = ClientEvent(
    "typing_stop",
    ConversationRef,
    (Ack,),
    "The user stopped typing: the room hears `user_typing` with `isTyping: false`.",
)
MARK_MESSAGES_READ = ClientEvent(
    "mark_messages_read",
    MarkRead,
    (ReadAck,),
    "The user read up to a message, as POST /conversations/{id}/read.",
)
MESSAGE_DELIVERED = ClientEvent(
    "message_delivered",
    DeliveredRequest,
    (Ack,),
    "The client has these messages (on screen or in store): moves the delivered-up-to mark.",
)
SYNC = ClientEvent(
    "sync",
    SyncRequest,
    (SyncAck,),
    "Catch-up: the committed messages after `afterSeq` in ascending seq; call again from the "
    "last seq while `hasMore`.",
)

CLIENT_ENTRIES: tuple[ClientEvent, ...] = (
    SEND_MESSAGE,
    JOIN_CONVERSATION,
    LEAVE_CONVERSATION,
    TYPING_START,
    TYPING_STOP,
    MARK_MESSAGES_READ,
    MESSAGE_DELIVERED,
    SYNC,
)
