"""FastAPI dependency aliases shared by every router."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from parley.core import runtime
from parley.core.replica import Read, ReadT


async def _session() -> AsyncIterator[AsyncSession]:
    async with runtime.current().db.unit_of_work() as session:
        yield session


async def _read_session() -> AsyncIterator[AsyncSession]:
    async with runtime.current().db.reads() as session:
        yield session


# scope="function": commit (and its after-commit hooks) before the response is sent, so a
# client's next request always sees its previous change.
SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]

# For endpoints that only read: on SQLite a read-only connection beside the writer (core/db.py),
# so a page of history never waits for the committer's transaction.
ReadSessionDep = Annotated[AsyncSession, Depends(_read_session, scope="function")]


class UserReads:
    """A read for one user, where it may be served (the replica, or the primary when the
    replica is behind that user's own writes, too far behind, or down)."""

    def __init__(self, user_id: uuid.UUID) -> None:
        self.user_id = user_id

    async def __call__(self, read: Read[ReadT]) -> ReadT:
        return await runtime.current().db.read_for(self.user_id, read)

    async def primary(self, read: Read[ReadT]) -> ReadT:
        """`read` on the primary, for what must not lag (catch-up after a position)."""
        async with runtime.current().db.reads() as session:
            return await read(session)
