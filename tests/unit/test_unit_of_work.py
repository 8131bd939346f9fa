"""The unit of work's hooks: after-commit ones run only when the transaction commits, undo
ones (`after_rollback`) only when it rolls back (an upload's bytes for a row never stored)."""

from __future__ import annotations

from pathlib import Path

import pytest

from parley.core.config import load_settings
from parley.core.db import Database, after_commit, after_rollback


class Boom(Exception):
    pass


@pytest.fixture
async def database(tmp_path: Path) -> Database:
    return Database(load_settings({"PARLEY_DATA_DIR": str(tmp_path)}))


async def test_a_commit_runs_the_after_commit_hooks_only(database: Database) -> None:
    ran: list[str] = []

    async def committed() -> None:
        ran.append("commit")

    async def undone() -> None:
        ran.append("rollback")

    async with database.unit_of_work() as session:
        after_commit(session, committed)
        after_rollback(session, undone)
    await database.dispose()
    assert ran == ["commit"]


async def test_a_rollback_runs_every_undo_hook_even_past_a_failing_one(
    database: Database,
) -> None:
    ran: list[str] = []

    async def committed() -> None:
        ran.append("commit")

    async def failing() -> None:
        raise RuntimeError("storage is down")

    async def undone() -> None:
        ran.append("rollback")

    with pytest.raises(Boom):
        async with database.unit_of_work() as session:
            after_commit(session, committed)
            after_rollback(session, failing)
            after_rollback(session, undone)
            raise Boom
    await database.dispose()
    assert ran == ["rollback"]
