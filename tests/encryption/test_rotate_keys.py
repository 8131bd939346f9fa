"""`parley rotate-keys` (issue 13, point 2): interrupted by SIGKILL and run again, it leaves
every encrypted value under the new primary key, and the server then reads every message with
the new key alone.

It runs on a database of its own (a fresh PostgreSQL database, or a fresh data directory):
rotating the session's database would leave the session's server without the new key.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from parley.core.crypto import new_key_spec, parse_keys
from tests.conftest import PARLEY, ROOT, own_storage, start_server
from tests.support import create_conversation, query_sql, read_all, register, send

MESSAGES = 300
ENCRYPTED_COLUMNS = [
    ("messages", "content"),
    ("message_versions", "content"),
    ("scheduled_messages", "content"),
    ("moderation_items", "content"),
    ("idempotency_keys", "response"),
]
_PROGRESS = re.compile(r"rotate-keys: messages\.content: (\d+)/(\d+)")


@pytest.fixture
def own_env(backend_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """The run's settings on a database of the test's own."""
    with own_storage(backend_env, "rotate") as env:
        yield env


async def _fill(url: str) -> tuple[Any, dict[str, str], str]:
    """Messages (and an edit, a scheduled message, an idempotent send) under the first key;
    returns the reader, id -> text, and the conversation."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        alice, bob = await register(client, "alice"), await register(client, "bob")
        conversation = await create_conversation(client, alice, [bob], rateLimit=10_000)
        texts: dict[str, str] = {}
        for start in range(0, MESSAGES, 25):
            sent = await asyncio.gather(
                *(
                    send(client, alice, conversation["id"], f"rotation message {n} of {MESSAGES}")
                    for n in range(start, min(start + 25, MESSAGES))
                )
            )
            texts.update({m["id"]: m["content"] for m in sent})
        first = next(iter(texts))
        edited = await client.put(
            f"/messages/{first}", json={"content": "edited after rotation"}, headers=alice.headers
        )
        assert edited.status_code == 200, edited.text
        texts[first] = "edited after rotation"
        scheduled = await client.post(
            "/messages",
            json={
                "conversationId": conversation["id"],
                "content": "scheduled through rotation",
                "scheduledAt": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
            },
            headers={**alice.headers, "Idempotency-Key": secrets.token_hex(8)},
        )
        assert scheduled.status_code == 201, scheduled.text
        return bob, texts, conversation["id"]


def _key_ids_in(env: dict[str, str]) -> dict[str, set[str]]:
    """Per column, the key ids its stored values name ('clear' for a value without one)."""
    found: dict[str, set[str]] = {}
    for table, column in ENCRYPTED_COLUMNS:
        rows = asyncio.run(
            query_sql(env, f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL")
        )
        found[f"{table}.{column}"] = {
            str(value).split(":")[1] if str(value).startswith("pe1:") else "clear"
            for (value,) in rows
        }
    return found


def _rotate(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [PARLEY, "rotate-keys", "--batch-size", "20"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_rotation_killed_and_resumed_leaves_everything_under_the_new_key(
    own_env: dict[str, str],
) -> None:
    key_a, key_b = new_key_spec("keya"), new_key_spec("keyb")
    server = start_server(own_env, {"ENCRYPTION_KEYS": key_a})
    try:
        bob, texts, conversation_id = asyncio.run(_fill(server.url))
    finally:
        server.stop()
    assert _key_ids_in(own_env)["messages.content"] == {"keya"}
    rotating = {**own_env, "ENCRYPTION_KEYS": f"{key_b},{key_a}"}

    # Killed once it has shown progress on the messages, part of the way through.
    with _rotate(rotating) as first:
        assert first.stdout is not None
        try:
            for line in first.stdout:
                progress = _PROGRESS.search(line)
                if progress and 0 < int(progress.group(1)) < int(progress.group(2)):
                    first.send_signal(signal.SIGKILL)
                    break
        finally:
            first.kill()
            first.wait(timeout=60)
    assert first.returncode == -signal.SIGKILL
    assert _key_ids_in(own_env)["messages.content"] == {"keya", "keyb"}

    with _rotate(rotating) as second:
        out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err
    assert "keyb" in out.splitlines()[-1]

    assert all(ids <= {"keyb"} for ids in _key_ids_in(own_env).values()), _key_ids_in(own_env)
    audited = asyncio.run(
        query_sql(own_env, "SELECT details FROM audit_log WHERE action = 'keys.rotated'")
    )
    assert len(audited) == 1  # one entry per completed run

    server = start_server(own_env, {"ENCRYPTION_KEYS": key_b})
    try:

        async def read() -> dict[str, str]:
            async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
                items = await read_all(client, bob, conversation_id)
            return {m["id"]: m["content"] for m in items}

        assert asyncio.run(read()) == texts
    finally:
        server.stop()
        if "PARLEY_TEST_KEEP_LOGS" not in os.environ:
            os.unlink(server.log_path)


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PARLEY, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_keys_new_prints_a_key_the_ring_accepts(own_env: dict[str, str]) -> None:
    result = _cli(["keys", "new", "--id", "k9"], own_env)

    assert result.returncode == 0, result.stderr
    spec = result.stdout.strip()
    assert spec.startswith("k9:")
    assert parse_keys(spec)[0][0] == "k9"
    assert _cli(["keys", "new"], own_env).stdout.strip() != _cli(["keys", "new"], own_env).stdout


def test_keys_new_refuses_a_bad_key_id(own_env: dict[str, str]) -> None:
    result = _cli(["keys", "new", "--id", "no spaces"], own_env)

    assert result.returncode != 0
    assert "key id" in result.stderr


def test_rotate_keys_refuses_a_batch_size_below_one(own_env: dict[str, str]) -> None:
    result = _cli(["rotate-keys", "--batch-size", "0"], own_env)

    assert result.returncode != 0
    assert "--batch-size" in result.stderr
