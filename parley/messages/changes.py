"""Listeners told after an edit commits, so that other domains follow a message's new text
(link previews fetch the new links) without this package importing them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from parley.core.db import after_commit


@dataclass(frozen=True)
class EditedMessage:
    """What an edit changed that a listener may act on (no content)."""

    message_id: uuid.UUID
    conversation_id: uuid.UUID
    urls: tuple[str, ...]
    urls_changed: bool
    encrypted: bool
    held: bool


EditListener = Callable[[EditedMessage], None]


class EditListeners:
    """The process's edit listeners (a runtime component, main.py). A listener runs after the
    commit, in the request that edited: it must only enqueue and return."""

    def __init__(self) -> None:
        self._listeners: list[EditListener] = []

    def add(self, listener: EditListener) -> None:
        self._listeners.append(listener)

    def after_commit(self, session: AsyncSession, edited: EditedMessage) -> None:
        """Tell every listener of `edited` once the session commits (never on rollback)."""
        if not self._listeners:
            return

        async def _tell() -> None:
            for listener in self._listeners:
                listener(edited)

        after_commit(session, _tell)
