"""The conversation events of the catalogue (core/events.py): name -> payload model."""

from __future__ import annotations

from parley.conversations.schemas import ConversationEvent, ParticipantEvent
from parley.core.events import Event, EventName

CONVERSATION_UPDATED = Event(
    EventName.CONVERSATION_UPDATED,
    ConversationEvent,
    "Name, description, settings, status or rate limit changed; to the conversation's room.",
)
PARTICIPANT_ADDED = Event(
    EventName.PARTICIPANT_ADDED,
    ParticipantEvent,
    "Someone joined (or came back); to the room and the new member's sockets.",
)
PARTICIPANT_UPDATED = Event(
    EventName.PARTICIPANT_UPDATED,
    ParticipantEvent,
    "A member's role, status, flags or notification settings changed.",
)
PARTICIPANT_REMOVED = Event(
    EventName.PARTICIPANT_REMOVED,
    ParticipantEvent,
    "A member left, was removed or banned; to the room and the member's own sockets.",
)
