"""The database's deny-list copied back into a store that lost it: every revocation still in
force, across several batches, and none that expired; then the marker."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from parley.accounts.deny_list import COMPLETE_KEY, COPY_BATCH, copy_to_store, revoked_key
from parley.accounts.models import RevokedToken
from parley.core.cache import MemoryCache
from parley.core.config import load_settings
from parley.core.db import Database, utcnow


async def test_every_revocation_in_force_is_copied_then_the_marker(tmp_path: Path) -> None:
    database = Database(load_settings({"PARLEY_DATA_DIR": str(tmp_path)}))
    async with database.engine.begin() as connection:
        await connection.run_sync(RevokedToken.metadata.create_all, [RevokedToken.__table__])
    now = utcnow()
    in_force = [f"t{index:05d}" for index in range(2 * COPY_BATCH + 7)]
    async with database.unit_of_work() as session:
        for index, token_id in enumerate(in_force):
            expires = now + timedelta(minutes=1 + index % 50)
            session.add(RevokedToken(token_id=token_id, expires_at=expires))
        session.add(RevokedToken(token_id="expired", expires_at=now - timedelta(seconds=1)))
    store = MemoryCache(max_entries=None)

    copied = await copy_to_store(database, store, now=now)
    await database.dispose()

    assert copied == len(in_force)
    assert all([await store.get(revoked_key(token_id)) for token_id in in_force])
    assert await store.get(revoked_key("expired")) is None
    assert await store.get(COMPLETE_KEY) is not None
