"""Helpers shared by the message tests; everything goes through the public HTTP API."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.support import User


def new_client_id() -> str:
    return f"cm-{uuid.uuid4().hex}"


def sql_statements(response: httpx.Response) -> int:
    """The X-SQL-Statements header the test server adds to every response."""
    return int(response.headers["x-sql-statements"])


async def post_message(
    client: httpx.AsyncClient,
    user: User,
    conversation_id: str,
    content: str | None = "hello",
    *,
    wait: bool = False,
    **fields: Any,
) -> httpx.Response:
    """POST /messages without asserting the outcome (for status and error checks)."""
    body: dict[str, Any] = {"conversationId": conversation_id, **fields}
    if content is not None:
        body["content"] = content
    return await client.post(
        "/messages",
        params={"wait": "true"} if wait else None,
        json=body,
        headers=user.headers,
    )


async def read_all(
    client: httpx.AsyncClient, user: User, conversation_id: str, *, limit: int = 200
) -> list[dict[str, Any]]:
    """Every committed message in ascending seq, by afterSeq catch-up pages."""
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"afterSeq": 0, "limit": limit}
    while True:
        response = await client.get(
            f"/messages/conversation/{conversation_id}", params=params, headers=user.headers
        )
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        if not page["hasMore"]:
            assert page["nextCursor"] is None, page
            return items
        assert page["nextCursor"], page
        params = {"after": page["nextCursor"], "limit": limit}


async def get_message(client: httpx.AsyncClient, user: User, message_id: str) -> dict[str, Any]:
    """GET /messages/{id} without its deliveryTracker (which only a single read derives), so
    it compares equal to the message as sent or listed."""
    response = await client.get(f"/messages/{message_id}", headers=user.headers)
    assert response.status_code == 200, response.text
    message = dict(response.json())
    message["deliveryTracker"] = None
    return message


async def get_conversation(
    client: httpx.AsyncClient, user: User, conversation_id: str
) -> dict[str, Any]:
    response = await client.get(f"/conversations/{conversation_id}", headers=user.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())
