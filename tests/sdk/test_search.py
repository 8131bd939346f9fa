"""The SDK's search_messages: filters by keyword, pages by cursor, errors as ParleyError."""

from __future__ import annotations

import secrets

import httpx
import pytest

from parley.client import ParleyClient, ParleyError
from tests.support import PASSWORD, Server, User, create_conversation, send


async def test_sdk_searches_with_filters_and_pages(
    server: Server, client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    word = f"sdk{secrets.token_hex(5)}"
    conversation = await create_conversation(client, alice, [bob])
    sent = [(await send(client, alice, conversation["id"], f"{word} {i}"))["id"] for i in range(3)]
    await send(client, bob, conversation["id"], word)
    sdk = ParleyClient([server.url])
    try:
        await sdk.login(bob.username, PASSWORD)
        first = await sdk.search_messages(
            word, conversation_id=conversation["id"], sender_id=alice.id, limit=2
        )
        second = await sdk.search_messages(
            word, conversation_id=conversation["id"], sender_id=alice.id, cursor=first["nextCursor"]
        )

        found = [hit["id"] for hit in first["items"] + second["items"]]
        assert sorted(found) == sorted(sent)
        assert second["nextCursor"] is None
        assert f"<mark>{word}</mark>" in first["items"][0]["snippet"]

        with pytest.raises(ParleyError) as refused:
            await sdk.search_messages("   ")
        assert (refused.value.code, refused.value.status) == ("VALIDATION_ERROR", 422)
        with pytest.raises(TypeError):
            await sdk.search_messages(word, colour="red")
    finally:
        await sdk.close()
