"""The deny-list's database rows go once their tokens have expired (each refresh adds one),
and not before: a row still in force is what a Redis outage or a restart falls back on."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from parley.accounts.deny_list import purge_expired_revocations
from parley.accounts.models import RevokedToken
from parley.core.config import load_settings
from parley.core.db import Database, utcnow


async def test_only_expired_revocations_are_purged(tmp_path: Path) -> None:
    database = Database(load_settings({"PARLEY_DATA_DIR": str(tmp_path)}))
    async with database.engine.begin() as connection:
        await connection.run_sync(RevokedToken.metadata.create_all, [RevokedToken.__table__])
    now = utcnow()
    async with database.unit_of_work() as session:
        session.add(RevokedToken(token_id="expired", expires_at=now - timedelta(seconds=1)))
        session.add(RevokedToken(token_id="expiring-now", expires_at=now))
        session.add(RevokedToken(token_id="in-force", expires_at=now + timedelta(minutes=5)))
    async with database.unit_of_work() as session:
        purged = await purge_expired_revocations(session, now=now)
    async with database.reads() as session:
        left = (await session.execute(select(RevokedToken.token_id))).scalars().all()
    await database.dispose()
    assert purged == 2
    assert left == ["in-force"]
