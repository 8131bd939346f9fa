"""A send whose commit fails: FAILED with a reason, nothing half-written, the rest commit.

The failure is injected in the real database with a trigger that refuses one marked content
(installed for the test, dropped after), so the committer meets a genuine database error.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import BACKEND
from tests.support import (
    User,
    assert_error,
    create_conversation,
    execute_sql,
    get_conversation,
    new_client_id,
    post_message,
    read_all,
    send,
)


@pytest.fixture
async def poison(backend_env: dict[str, str]) -> AsyncIterator[str]:
    """A content the database refuses to store while the test runs."""
    # A hashtag: content is stored encrypted, so the trigger finds the marker in the
    # metadata extracted from it (in clear), not in the content.
    name = f"poison_{secrets.token_hex(4)}"
    marker = f"#{name}"
    if BACKEND == "postgres":
        install = [
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.metadata::text LIKE '%{name}%' THEN RAISE EXCEPTION 'refused by test'; "
            f"END IF; RETURN NEW; END $$",
            f"CREATE TRIGGER {name} BEFORE INSERT ON messages FOR EACH ROW "
            f"EXECUTE FUNCTION {name}()",
        ]
        remove = [f"DROP TRIGGER {name} ON messages", f"DROP FUNCTION {name}()"]
    else:
        install = [
            f"CREATE TRIGGER {name} BEFORE INSERT ON messages WHEN NEW.metadata LIKE '%{name}%' "
            f"BEGIN SELECT RAISE(ABORT, 'refused by test'); END"
        ]
        remove = [f"DROP TRIGGER {name}"]
    await execute_sql(backend_env, install)
    yield marker
    await execute_sql(backend_env, remove)


async def test_failed_commit_answers_commit_failed_with_the_message_id(
    client: httpx.AsyncClient, alice: User, bob: User, poison: str
) -> None:
    conversation = await create_conversation(client, alice, [bob])

    response = await post_message(client, alice, conversation["id"], poison, wait=True)

    error = assert_error(response, 503, "COMMIT_FAILED")
    assert error["details"]["messageId"]


async def test_failed_send_is_shown_failed_to_its_sender_only(
    client: httpx.AsyncClient, alice: User, bob: User, poison: str
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    response = await post_message(client, alice, conversation["id"], poison, wait=True)
    message_id = response.json()["error"]["details"]["messageId"]

    own = await client.get(f"/messages/{message_id}", headers=alice.headers)
    other = await client.get(f"/messages/{message_id}", headers=bob.headers)

    assert own.status_code == 200, own.text
    assert own.json()["status"] == "FAILED"
    assert own.json()["failure"]["code"] == "COMMIT_FAILED"
    assert_error(other, 404, "MESSAGE_NOT_FOUND")


async def test_failed_send_leaves_nothing_and_no_gap(
    client: httpx.AsyncClient, alice: User, bob: User, poison: str
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await send(client, alice, conversation["id"], "before")

    failed = await post_message(client, alice, conversation["id"], poison, wait=True)
    after = await send(client, alice, conversation["id"], "after")

    assert failed.status_code == 503
    assert [m["content"] for m in await read_all(client, bob, conversation["id"])] == [
        "before",
        "after",
    ]
    assert after["seq"] == 2
    assert (await get_conversation(client, alice, conversation["id"]))["messageCount"] == 2


async def test_one_failing_send_does_not_fail_its_batch(
    client: httpx.AsyncClient, alice: User, bob: User, poison: str
) -> None:
    conversation = await create_conversation(client, alice, [bob], rateLimit=10_000)
    contents = [f"ok-{index}" for index in range(10)]
    contents.insert(5, poison)

    # Accepted together, so they share batches; then one wait=true send flushes the queue.
    accepted = await asyncio.gather(
        *(
            post_message(client, alice, conversation["id"], text, clientMessageId=new_client_id())
            for text in contents
        )
    )
    await send(client, alice, conversation["id"], "flush")

    assert {r.status_code for r in accepted} == {202}
    stored = [m["content"] for m in await read_all(client, bob, conversation["id"])]
    assert sorted(stored) == sorted([*contents[:5], *contents[6:], "flush"])
    assert [m["seq"] for m in await read_all(client, bob, conversation["id"])] == list(range(1, 12))
