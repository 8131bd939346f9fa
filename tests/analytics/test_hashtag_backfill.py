"""Migration 0017 fills the per-day hashtag counters from the hashtag rows already there, by
the UTC day of the message, and top hashtags of a period then read them: on a database of its
own (the analytics tests share theirs), messages are sent, moved to earlier days in SQL, the
schema taken back to 0016 (which drops the counters) and `parley migrate` run again."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.config import Config

from parley.core.config import load_settings
from tests.conftest import PARLEY, ROOT, own_storage, start_server
from tests.support import create_conversation, execute_sql, query_sql, register, send


@pytest.fixture
def own_env(backend_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """The test run's environment with a data directory (and a PostgreSQL database) of its own."""
    with own_storage(backend_env, "backfill") as env:
        yield env


def _literals(env: dict[str, str], message_id: str, at: datetime) -> tuple[str, str]:
    """A message id and a time as literals of the engine under test."""
    if "DATABASE_URL" in env:
        return f"'{message_id}'", f"'{at.isoformat()}'"
    return f"'{message_id.replace('-', '')}'", f"'{at.strftime('%Y-%m-%d %H:%M:%S.%f')}'"


def _downgrade_to_0016(env: dict[str, str]) -> None:
    settings = load_settings(env)
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = settings.database_url
    config.attributes["key_ring"] = settings.key_ring
    command.downgrade(config, "0016")


async def _counter_table_exists(env: dict[str, str]) -> bool:
    if "DATABASE_URL" in env:
        rows = await query_sql(env, "SELECT to_regclass('conversation_daily_hashtags')::text")
        return rows[0][0] is not None
    rows = await query_sql(
        env, "SELECT name FROM sqlite_master WHERE name = 'conversation_daily_hashtags'"
    )
    return bool(rows)


async def _top(
    client: httpx.AsyncClient, headers: dict[str, str], cid: str, start: date, end: date
) -> list[dict[str, Any]]:
    response = await client.get(
        f"/conversations/{cid}/analytics",
        params={"from": start.isoformat(), "to": end.isoformat()},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return list(response.json()["topHashtags"])


async def test_backfill_counts_the_rows_by_day_and_periods_read_them(
    own_env: dict[str, str],
) -> None:
    today = datetime.now(UTC).date()
    noon = datetime.combine(today, datetime.min.time(), UTC) + timedelta(hours=12)
    # Message text -> how many days before today it is moved.
    script = [
        ("#launch #beta", 0),
        ("#launch", 0),
        ("#beta #gamma", 3),
        ("#gamma again", 3),
        ("#launch late", 3),
        ("#old", 200),
        ("#ancient #launch", 400),
    ]
    server = start_server(own_env)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            owner = await register(client, "owner")
            conversation = await create_conversation(client, owner, [])
            cid = conversation["id"]
            sent = [await send(client, owner, cid, text) for text, _ in script]
    finally:
        server.stop()
    statements = []
    for message, (_, days_back) in zip(sent, script, strict=True):
        if days_back:
            id_literal, at_literal = _literals(
                own_env, message["id"], noon - timedelta(days=days_back)
            )
            statements += [
                f"UPDATE messages SET server_timestamp = {at_literal} WHERE id = {id_literal}",
                f"UPDATE hashtags SET created_at = {at_literal} WHERE message_id = {id_literal}",
            ]
    await execute_sql(own_env, statements)
    await asyncio.to_thread(_downgrade_to_0016, own_env)
    assert not await _counter_table_exists(own_env)
    migrated = await asyncio.create_subprocess_exec(PARLEY, "migrate", env=own_env, cwd=ROOT)
    assert await migrated.wait() == 0
    assert await _counter_table_exists(own_env)

    server = start_server(own_env)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            headers = owner.headers
            day = timedelta(days=1)
            assert await _top(client, headers, cid, today, today) == [
                {"tag": "launch", "count": 2},
                {"tag": "beta", "count": 1},
            ]
            assert await _top(client, headers, cid, today - 3 * day, today - 3 * day) == [
                {"tag": "gamma", "count": 2},
                {"tag": "beta", "count": 1},
                {"tag": "launch", "count": 1},
            ]
            assert await _top(client, headers, cid, today - 2 * day, today - day) == []
            assert await _top(client, headers, cid, today - 365 * day, today) == [
                {"tag": "launch", "count": 3},
                {"tag": "beta", "count": 2},
                {"tag": "gamma", "count": 2},
                {"tag": "old", "count": 1},
            ]
            assert await _top(client, headers, cid, today - 400 * day, today - 200 * day) == [
                {"tag": "ancient", "count": 1},
                {"tag": "launch", "count": 1},
                {"tag": "old", "count": 1},
            ]
            # After the backfill the committer keeps counting on the same rows.
            await send(client, owner, cid, "#beta #new")
            assert await _top(client, headers, cid, today, today) == [
                {"tag": "beta", "count": 2},
                {"tag": "launch", "count": 2},
                {"tag": "new", "count": 1},
            ]
    finally:
        server.stop()
