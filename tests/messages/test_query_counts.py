"""Pinned SQL statement counts of the hot paths (X-SQL-Statements, counted by the server).

Each test first makes one warm-up request, so the user and membership caches are warm, and
(for sends) so that every send queued earlier by other tests is committed: commits are FIFO per
process, so after a wait=true send returns, the committer is idle.
"""

from __future__ import annotations

import os

import httpx

from tests.support import (
    User,
    create_conversation,
    message_page_response,
    new_client_id,
    post_message,
    register,
    send,
    sql_statements,
)

# With Redis the idempotency ledger proves a clientMessageId new without asking the database;
# the embedded in-process cache cannot, so there every send with one does a lookup.
SHARED_LEDGER = os.environ.get("PARLEY_TEST_BACKEND", "sqlite") == "postgres"
LOOKUP = 0 if SHARED_LEDGER else 1


async def test_accepted_send_issues_no_statements(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await send(client, alice, conversation["id"], "warm-up")

    response = await post_message(client, alice, conversation["id"], "cheap")

    assert response.status_code == 202, response.text
    assert sql_statements(response) == 0


async def test_accepted_send_with_client_id_issues_at_most_one_lookup(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await send(client, alice, conversation["id"], "warm-up")

    response = await post_message(
        client, alice, conversation["id"], "cheap", clientMessageId=new_client_id()
    )

    assert response.status_code == 202, response.text
    assert sql_statements(response) == LOOKUP


async def test_committed_send_alone_in_its_batch_issues_three_plus_lookup(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await send(client, alice, conversation["id"], "warm-up")

    response = await post_message(
        client, alice, conversation["id"], "plain", wait=True, clientMessageId=new_client_id()
    )

    # Idempotency lookup (embedded only); then the batch: seq counter, insert, read pointer,
    # the per-day counts (one upsert) and the day's senders (one insert-or-ignore).
    assert response.status_code == 201, response.text
    assert sql_statements(response) == LOOKUP + 5


async def test_committed_send_with_hashtags_adds_two(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await send(client, alice, conversation["id"], "warm-up #warm")

    response = await post_message(
        client,
        alice,
        conversation["id"],
        "#launch #beta #gamma",
        wait=True,
        clientMessageId=new_client_id(),
    )

    # The five of a plain send, plus the hashtag rows (one executemany insert) and the
    # per-day hashtag counters (one executemany upsert), whatever the number of tags; a batch
    # without tags issues neither (the test above).
    assert response.status_code == 201, response.text
    assert sql_statements(response) == LOOKUP + 5 + 2


async def test_page_read_issues_two_whatever_its_size(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol], rateLimit=10_000)
    for index in range(19):
        await send(client, alice, conversation["id"], f"m{index}", wait=False)
    last = await send(client, alice, conversation["id"], "m19")
    assert last["seq"] == 20
    page = (await message_page_response(client, bob, conversation["id"], limit=20)).json()["items"]
    for message in page[::3]:
        for user, emoji in [(bob, "+1"), (carol, "+1"), (carol, "ok")]:
            response = await client.post(
                f"/messages/{message['id']}/reactions", json={"emoji": emoji}, headers=user.headers
            )
            assert response.status_code == 200, response.text

    small = await message_page_response(client, bob, conversation["id"], limit=5)
    large = await message_page_response(client, bob, conversation["id"], limit=20)

    assert len(small.json()["items"]) == 5
    assert len(large.json()["items"]) == 20
    assert sum(1 for m in large.json()["items"] if m["reactions"]) == 7
    assert sql_statements(small) == sql_statements(large) == 2


async def test_conversation_list_issues_one_whatever_its_length(
    client: httpx.AsyncClient, bob: User, carol: User
) -> None:
    # A user of this test alone, so the list length is known.
    frank = await register(client, "frank")
    first = await create_conversation(client, frank, [bob])
    await send(client, bob, first["id"], "hi")
    assert (await client.get("/conversations", headers=frank.headers)).status_code == 200
    one = await client.get("/conversations", headers=frank.headers)
    for member in [bob, carol, bob]:
        conversation = await create_conversation(client, frank, [member])
        await send(client, member, conversation["id"], "hi")

    four = await client.get("/conversations", headers=frank.headers)

    assert four.status_code == 200, four.text
    assert (len(one.json()["items"]), len(four.json()["items"])) == (1, 4)
    assert all(c["lastMessage"] is not None for c in four.json()["items"])
    assert sql_statements(one) == sql_statements(four) == 1
