"""What schemathesis over /openapi.json found (docs/benchmarks.md, API fuzzing), kept fixed."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.openapi.conftest import operations
from tests.support import User, assert_error, create_conversation


async def test_405_allow_names_every_method_of_the_path(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    response = await client.request(
        "OPTIONS", f"/conversations/{conversation['id']}", headers=alice.headers
    )
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["allow"] == "GET, PATCH"


async def test_a_number_is_not_a_timestamp(client: httpx.AsyncClient, alice: User) -> None:
    response = await client.get("/audit", params={"to": "0.5"}, headers=alice.headers)
    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert error["details"]["errors"][0]["field"] == "query.to"


async def test_a_number_in_a_body_is_not_a_timestamp(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    response = await client.post(
        "/messages",
        json={"conversationId": conversation["id"], "content": "hi", "clientTimestamp": 1},
        headers=alice.headers,
    )
    assert_error(response, 422, "VALIDATION_ERROR")


async def test_an_iso_timestamp_still_passes(client: httpx.AsyncClient, alice: User) -> None:
    response = await client.get(
        "/audit", params={"to": "2026-12-04T12:00:00Z"}, headers=alice.headers
    )
    assert response.status_code != 422, response.text


def test_a_download_may_have_any_type(document: dict[str, Any]) -> None:
    responses = operations(document)["GET /attachments/{attachment_id}"]["responses"]
    assert set(responses["200"]["content"]) == {"*/*"}
    assert set(responses["206"]["content"]) == {"*/*"}


def test_conversation_status_is_documented_as_never_null(document: dict[str, Any]) -> None:
    status = document["components"]["schemas"]["ConversationUpdate"]["properties"]["status"]
    assert "null" not in str(status)


def test_emoji_rule_is_in_the_schema(document: dict[str, Any]) -> None:
    emoji = document["components"]["schemas"]["ReactionCreate"]["properties"]["emoji"]
    assert emoji["pattern"] and emoji["maxLength"] == 32


async def test_an_emoji_with_a_control_character_is_refused_on_delete_too(
    client: httpx.AsyncClient, alice: User
) -> None:
    response = await client.delete(
        f"/messages/{uuid.uuid4()}/reactions/a%C2%84b", headers=alice.headers
    )
    assert_error(response, 422, "VALIDATION_ERROR")


def test_errors_found_by_fuzzing_are_documented(document: dict[str, Any]) -> None:
    found = {
        ("GET /messages/{message_id}/history", "409", "MESSAGE_PENDING"),
        ("POST /messages/{message_id}/report", "403", "PERMISSION_DENIED"),
        ("GET /moderation/queue", "404", "CONVERSATION_NOT_FOUND"),
    }
    for key, status, code in found:
        examples = operations(document)[key]["responses"][status]["content"]["application/json"]
        assert code in examples["examples"], (key, status, code)
