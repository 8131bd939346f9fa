"""FastAPI dependency aliases shared by every router."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from parley.core import runtime


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
