"""The SDK's schedule_message, scheduled_messages and cancel_scheduled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from parley.client import ParleyClient
from tests.support import PASSWORD, Server, User, create_conversation


async def test_sdk_schedules_lists_and_cancels(
    server: Server, client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    sdk = ParleyClient([server.url])
    try:
        await sdk.login(alice.username, PASSWORD)
        item = await sdk.schedule_message(
            conversation["id"], "from the sdk", datetime.now(UTC) + timedelta(hours=1)
        )
        listed = await sdk.scheduled_messages()
        await sdk.cancel_scheduled(item["id"])
        cancelled = await sdk.scheduled_messages(status="CANCELLED")
    finally:
        await sdk.close()

    assert item["status"] == "SCHEDULED"
    assert item["id"] in [i["id"] for i in listed["items"]]
    assert item["id"] in [i["id"] for i in cancelled["items"]]
