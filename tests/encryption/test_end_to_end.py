"""End-to-end encrypted messages (`encrypted: true`) under at-rest encryption: the server
stores the client's envelope (sealed again at rest, like every text) and hands back exactly the
bytes it was sent; it never indexes, extracts or scores it.

Covered elsewhere for the same messages: no link preview is fetched
(tests/previews/test_previews.py::test_encrypted_message_is_never_fetched), no push shows the
content (tests/notifications/test_webhook.py, tests/notifications/test_rules.py), and
screening skips them (tests/moderation/test_moderation.py).
"""

from __future__ import annotations

import secrets

import httpx

from tests.conftest import BACKEND
from tests.support import User, create_conversation, envelope, get_message, query_sql, send


async def test_envelope_comes_back_byte_identical_and_is_never_indexed_or_extracted(
    client: httpx.AsyncClient, backend_env: dict[str, str], alice: User, bob: User
) -> None:
    conversation = await create_conversation(
        client, alice, [bob], settings={"endToEndEncryption": True, "moderation": True}
    )
    kid = f"roomkey{secrets.token_hex(4)}"
    # Unusual but valid JSON spacing: a server that re-serialised it would change the bytes.
    content = envelope(kid).replace(", ", ",   ")

    message = await send(client, alice, conversation["id"], content, encrypted=True)

    read = await get_message(client, bob, message["id"])
    assert read["content"] == content
    assert read["encrypted"] is True
    assert read["metadata"] == {"mentions": [], "hashtags": [], "urls": [], "urlPreviews": []}
    db_id = message["id"] if BACKEND == "postgres" else message["id"].replace("-", "")
    stored = await query_sql(backend_env, f"SELECT content FROM messages WHERE id = '{db_id}'")
    assert str(stored[0][0]).startswith("pe1:")  # sealed at rest too
    assert kid not in str(stored[0][0])
    if BACKEND == "postgres":
        indexed = (
            f"SELECT count(*) FROM messages WHERE id = '{db_id}' AND search_vector IS NOT NULL"
        )
    else:
        indexed = (
            "SELECT count(*) FROM messages_fts_source WHERE message_rowid = "
            f"(SELECT rowid FROM messages WHERE id = '{db_id}')"
        )
    assert await query_sql(backend_env, indexed) == [(0,)]
    found = await client.get("/messages/search", params={"q": kid}, headers=bob.headers)
    assert found.status_code == 200, found.text
    assert found.json()["items"] == []
    queue = await client.get(
        "/moderation/queue",
        params={"conversationId": conversation["id"], "status": "ALL"},
        headers=alice.headers,
    )
    assert queue.status_code == 200, queue.text
    assert queue.json()["items"] == []
