"""Message text is encrypted at rest (issue 13, point 2): a dump of the database holds no
plaintext of a message, of its edited-away version or of a scheduled message, and search
still finds the text and shows it in snippets.

The search index itself holds the words (PostgreSQL: the `search_vector` lexemes; SQLite: the
FTS5 index's tokens): a dump shows which words occur, sorted and deduplicated, never the text
in order. So these tests assert that no whole sentence (nor its longer word runs) appears, not
that no single word does (docs/api.md, "Encryption at rest").
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import BACKEND
from tests.scheduled.helpers import schedule
from tests.support import User, create_conversation, query_sql, send

HELD = "fuck this shit, fuck"  # held for review (tests/security/test_encrypted_content.py)


def _sentence(topic: str) -> str:
    """A distinctive multi-word sentence, unique to one test run."""
    return f"the {topic} quartermaster {secrets.token_hex(4)} hides marmalade under lighthouse"


def _pg_dump() -> str:
    found = shutil.which("pg_dump") or "/usr/lib/postgresql/15/bin/pg_dump"
    assert Path(found).exists(), "pg_dump is needed for this test"
    return found


async def _dump(backend_env: dict[str, str]) -> bytes:
    """Everything the database holds, as an administrator would copy it."""
    if BACKEND == "postgres":
        process = await asyncio.create_subprocess_exec(
            _pg_dump(),
            "--no-owner",
            backend_env["DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://"),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        assert process.returncode == 0, err.decode()
        return out
    return await asyncio.to_thread(_sqlite_files, Path(backend_env["PARLEY_DATA_DIR"]))


def _sqlite_files(data_dir: Path) -> bytes:
    # The committed pages may still be in the write-ahead log: read both files.
    base = data_dir / "parley.db"
    return b"".join(
        Path(f"{base}{suffix}").read_bytes()
        for suffix in ("", "-wal")
        if os.path.exists(f"{base}{suffix}")
    )


async def _search(client: httpx.AsyncClient, user: User, q: str, **params: Any) -> list[Any]:
    response = await client.get("/messages/search", params={"q": q, **params}, headers=user.headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def test_database_dump_holds_no_plaintext_of_messages_versions_or_scheduled(
    client: httpx.AsyncClient, backend_env: dict[str, str], alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    first, edited, scheduled = _sentence("first"), _sentence("edited"), _sentence("scheduled")
    flagged = _sentence("flagged")
    message = await send(client, alice, conversation["id"], first)
    response = await client.put(
        f"/messages/{message['id']}", json={"content": edited}, headers=alice.headers
    )
    assert response.status_code == 200, response.text
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    await schedule(client, alice, conversation["id"], scheduled, later)
    # The idempotency record keeps the answer, which carries the text.
    replayed = await client.post(
        "/messages",
        params={"wait": "true"},
        json={"conversationId": conversation["id"], "content": first},
        headers={**alice.headers, "Idempotency-Key": secrets.token_hex(8)},
    )
    assert replayed.status_code == 201, replayed.text
    # Flagged for review: the queue item keeps its own copy of the text.
    await send(client, alice, conversation["id"], f"{HELD} {flagged} {HELD} {HELD}")
    queue = await client.get(
        "/moderation/queue",
        params={"conversationId": conversation["id"], "status": "ALL"},
        headers=alice.headers,
    )
    assert queue.status_code == 200, queue.text
    assert len(queue.json()["items"]) == 1, queue.json()

    dump = await _dump(backend_env)

    assert len(dump) > 10_000  # a real dump, not an error message
    for sentence in (first, edited, scheduled, flagged):
        words = sentence.split()
        for start in range(len(words) - 2):
            run = " ".join(words[start : start + 3])
            assert run.encode() not in dump, f"{run!r} is stored in clear"
        assert sentence.encode() not in dump
    stored = await query_sql(
        backend_env, f"SELECT content FROM messages WHERE id = '{_db_id(message['id'])}'"
    )
    assert str(stored[0][0]).startswith("pe1:")


def _db_id(message_id: str) -> str:
    """A uuid as each engine stores it (SQLite: 32 hex digits)."""
    return message_id if BACKEND == "postgres" else message_id.replace("-", "")


async def test_search_finds_an_encrypted_message_and_follows_its_edit(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    marker = f"zanzibar{secrets.token_hex(3)}"
    message = await send(client, alice, conversation["id"], f"meet <b>me</b> at {marker} today")

    hits = await _search(client, bob, marker, conversationId=conversation["id"])

    assert [hit["id"] for hit in hits] == [message["id"]]
    assert hits[0]["content"] == f"meet <b>me</b> at {marker} today"
    assert f"<mark>{marker}</mark>" in hits[0]["snippet"]
    assert "<b>" not in hits[0]["snippet"]  # the text's own markup is escaped or left out

    renamed = f"quokka{secrets.token_hex(3)}"
    response = await client.put(
        f"/messages/{message['id']}",
        json={"content": f"moved to {renamed} tomorrow"},
        headers=alice.headers,
    )
    assert response.status_code == 200, response.text

    assert await _search(client, bob, marker, conversationId=conversation["id"]) == []
    hits = await _search(client, bob, renamed, conversationId=conversation["id"])
    assert [hit["id"] for hit in hits] == [message["id"]]
    assert hits[0]["snippet"] == f"moved to <mark>{renamed}</mark> tomorrow"


async def test_deleted_encrypted_message_leaves_the_index(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    marker = f"pelican{secrets.token_hex(3)}"
    message = await send(client, alice, conversation["id"], f"gone {marker}")
    assert len(await _search(client, bob, marker)) == 1

    response = await client.delete(f"/messages/{message['id']}", headers=alice.headers)
    assert response.status_code in (200, 204), response.text

    assert await _search(client, bob, marker) == []
