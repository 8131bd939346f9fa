"""The message events of the catalogue (core/events.py): name -> payload model."""

from __future__ import annotations

from parley.core.events import Event, EventName
from parley.messages.schemas import (
    MessageConfirmedEvent,
    MessageEvent,
    MessageFailedEvent,
    ModerationFlaggedEvent,
    ReactionEvent,
)

NEW_MESSAGE = Event(
    EventName.NEW_MESSAGE,
    MessageEvent,
    "A message was committed; to the conversation's room (a held one without content).",
)
MESSAGE_CONFIRMED = Event(
    EventName.MESSAGE_CONFIRMED,
    MessageConfirmedEvent,
    "The sender's optimistic send is durable; to the sender's sockets.",
)
MESSAGE_FAILED = Event(
    EventName.MESSAGE_FAILED,
    MessageFailedEvent,
    "The sender's optimistic send could not be stored; to the sender's sockets.",
)
MESSAGE_UPDATED = Event(
    EventName.MESSAGE_UPDATED,
    MessageEvent,
    "A message was edited, released by a reviewer, or got its link previews; to the room.",
)
MESSAGE_DELETED = Event(
    EventName.MESSAGE_DELETED,
    MessageEvent,
    "A message was deleted (by its sender, a moderator or a rejection); to the room.",
)
REACTION_ADDED = Event(
    EventName.REACTION_ADDED, ReactionEvent, "Someone reacted; to the conversation's room."
)
REACTION_REMOVED = Event(
    EventName.REACTION_REMOVED,
    ReactionEvent,
    "Someone took a reaction back; to the conversation's room.",
)
MODERATION_FLAGGED = Event(
    EventName.MODERATION_FLAGGED,
    ModerationFlaggedEvent,
    "A sent or edited text was flagged; to the conversation's reviewers' sockets.",
)
