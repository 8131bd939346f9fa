"""Client-encrypted content is a conversation policy, not a way around screening.

`encrypted: true` is accepted only where the conversation's `settings.endToEndEncryption` is on
(owners and admins switch it), and there it is required; the content must be a well-formed
envelope `{"v": 1, "kid", "nonce", "ct"}` (docs/api.md, End-to-end encryption). The same rule
holds for the socket's `send_message`, for edits and for forwards.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from tests.realtime.sockets import Connect
from tests.support import (
    User,
    assert_error,
    create_conversation,
    envelope,
    get_message,
    post_message,
    read_all,
    send,
    set_role,
)

SPAM = "BUY NOW!!! free money, click here: https://spam.example/win"
HELD = "fuck this shit, fuck"
WATCH = frozenset({"user_status_changed", "message_confirmed"})


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _envelope_with(**fields: Any) -> str:
    body: dict[str, Any] = json.loads(envelope())
    for key, value in fields.items():
        if value is ...:
            body.pop(key)
        else:
            body[key] = value
    return json.dumps(body)


async def _e2e_conversation(
    client: httpx.AsyncClient, owner: User, members: list[User]
) -> dict[str, Any]:
    conversation = await create_conversation(
        client, owner, members, settings={"endToEndEncryption": True}
    )
    assert conversation["settings"]["endToEndEncryption"] is True
    return conversation


async def _patch_settings(
    client: httpx.AsyncClient, user: User, conversation_id: str, **settings: bool
) -> httpx.Response:
    return await client.patch(
        f"/conversations/{conversation_id}", json={"settings": settings}, headers=user.headers
    )


async def _queue(client: httpx.AsyncClient, user: User, conversation_id: str) -> list[Any]:
    response = await client.get(
        "/moderation/queue",
        params={"conversationId": conversation_id, "status": "ALL"},
        headers=user.headers,
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def _content_refused(response: httpx.Response) -> None:
    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert [e["field"] for e in error["details"]["errors"]] == ["content"], error


# ---------------------------------------------------------------- the setting


async def test_end_to_end_encryption_is_off_by_default_and_set_by_admins_only(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    assert conversation["settings"]["endToEndEncryption"] is False
    await set_role(client, alice, conversation["id"], carol, "ADMIN")

    refused = await _patch_settings(client, bob, conversation["id"], endToEndEncryption=True)
    assert_error(refused, 403, "PERMISSION_DENIED")
    switched = await _patch_settings(client, carol, conversation["id"], endToEndEncryption=True)

    assert switched.status_code == 200, switched.text
    assert switched.json()["settings"]["endToEndEncryption"] is True
    created_on = await _e2e_conversation(client, alice, [bob])
    assert created_on["settings"]["moderation"] is True


# ---------------------------------------------------------------- sending


async def test_spam_marked_encrypted_is_refused_where_encryption_is_off(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])

    for content in (HELD, SPAM, envelope()):
        refused = await post_message(
            client, bob, conversation["id"], content, encrypted=True, wait=True
        )
        error = assert_error(refused, 409, "ENCRYPTION_NOT_ENABLED")
        assert error["details"]["conversationId"] == conversation["id"]

    assert await read_all(client, carol, conversation["id"]) == []
    assert await _queue(client, alice, conversation["id"]) == []


async def test_spam_marked_encrypted_is_refused_where_encryption_is_on(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await _e2e_conversation(client, alice, [bob])

    for content in (HELD, SPAM):
        refused = await post_message(
            client, bob, conversation["id"], content, encrypted=True, wait=True
        )
        _content_refused(refused)

    assert await read_all(client, alice, conversation["id"]) == []


async def test_envelope_is_delivered_opaque_where_encryption_is_on(
    client: httpx.AsyncClient, connect: Connect, alice: User, bob: User
) -> None:
    conversation = await _e2e_conversation(client, alice, [bob])
    socket = await connect(alice, WATCH)
    content = envelope("conversation-key:1")

    message = await send(client, bob, conversation["id"], content, encrypted=True)

    assert (message["status"], message["encrypted"], message["content"]) == (
        "SENT",
        True,
        content,
    )
    assert message["metadata"] == {"mentions": [], "hashtags": [], "urls": [], "urlPreviews": []}
    delivered = (await socket.next_of("new_message"))["message"]
    assert (delivered["id"], delivered["content"], delivered["encrypted"]) == (
        message["id"],
        content,
        True,
    )


async def test_plain_text_is_refused_where_encryption_is_on(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await _e2e_conversation(client, alice, [bob])

    refused = await post_message(client, bob, conversation["id"], "in the clear", wait=True)

    error = assert_error(refused, 409, "ENCRYPTION_REQUIRED")
    assert error["details"]["conversationId"] == conversation["id"]
    assert await read_all(client, alice, conversation["id"]) == []


async def test_switching_encryption_off_refuses_envelopes_again(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await _e2e_conversation(client, alice, [bob])
    await send(client, bob, conversation["id"], envelope(), encrypted=True)

    switched = await _patch_settings(client, alice, conversation["id"], endToEndEncryption=False)
    assert switched.status_code == 200, switched.text

    refused = await post_message(client, bob, conversation["id"], envelope(), encrypted=True)
    assert_error(refused, 409, "ENCRYPTION_NOT_ENABLED")
    plain = await send(client, bob, conversation["id"], "plain again")
    assert plain["encrypted"] is False


@pytest.mark.parametrize(
    "content",
    [
        pytest.param("buy now, click here", id="not-json"),
        pytest.param(json.dumps([1, "key-1", _b64(bytes(12)), _b64(bytes(32))]), id="not-object"),
        pytest.param(_envelope_with(ct=...), id="missing-ct"),
        pytest.param(_envelope_with(nonce=...), id="missing-nonce"),
        pytest.param(_envelope_with(kid=...), id="missing-kid"),
        pytest.param(_envelope_with(v=...), id="missing-version"),
        pytest.param(_envelope_with(alg="none"), id="unknown-key"),
        pytest.param(_envelope_with(v=2), id="unknown-version"),
        pytest.param(_envelope_with(v=True), id="version-bool"),
        pytest.param(_envelope_with(v="1"), id="version-string"),
        pytest.param(_envelope_with(v=1.0), id="version-float"),
        pytest.param(_envelope_with(kid=""), id="kid-empty"),
        pytest.param(_envelope_with(kid="k" * 129), id="kid-too-long"),
        pytest.param(_envelope_with(kid="two words"), id="kid-space"),
        pytest.param(_envelope_with(kid=7), id="kid-not-string"),
        pytest.param(_envelope_with(nonce="not base64!"), id="nonce-not-base64"),
        pytest.param(_envelope_with(nonce=_b64(bytes(8))), id="nonce-too-short"),
        pytest.param(_envelope_with(nonce=_b64(bytes(33))), id="nonce-too-long"),
        pytest.param(_envelope_with(nonce=_b64(b"\xfb\xff" * 6).replace("+", "-")), id="urlsafe"),
        pytest.param(_envelope_with(nonce=_b64(bytes(13)).rstrip("=")), id="nonce-unpadded"),
        pytest.param(_envelope_with(ct=""), id="ct-empty"),
        pytest.param(_envelope_with(ct=_b64(bytes(15))), id="ct-too-short"),
        pytest.param(_envelope_with(ct=_b64(bytes(32)) + "\n"), id="ct-trailing-newline"),
        pytest.param(_envelope_with(ct=None), id="ct-null"),
        pytest.param(
            _envelope_with().replace('"v": 1', '"v": 1, "v": 1'),
            id="duplicate-key",
        ),
        pytest.param('{"v": ' + "[" * 4900 + "]" * 4900 + "}", id="deeply-nested"),
    ],
)
async def test_malformed_envelope_is_refused(
    client: httpx.AsyncClient, alice: User, bob: User, content: str
) -> None:
    conversation = await _e2e_conversation(client, alice, [bob])

    refused = await post_message(client, bob, conversation["id"], content, encrypted=True)

    _content_refused(refused)


async def test_envelope_bounds_are_accepted(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await _e2e_conversation(client, alice, [bob])
    compact = json.dumps(json.loads(envelope()), separators=(",", ":"))

    for content in (
        compact,
        envelope("k" * 128, nonce=bytes(32), ciphertext=bytes(16)),
        envelope("a.B_c:d/e+f=g-1", nonce=bytes(12)),
    ):
        accepted = await post_message(client, bob, conversation["id"], content, encrypted=True)
        assert accepted.status_code == 202, accepted.text


async def test_socket_send_follows_the_same_policy(
    client: httpx.AsyncClient, connect: Connect, alice: User, bob: User
) -> None:
    plain = await create_conversation(client, alice, [bob])
    sealed = await _e2e_conversation(client, alice, [bob])
    socket = await connect(bob, WATCH)

    async def ack(conversation: dict[str, Any], content: str, encrypted: bool) -> dict[str, Any]:
        body = {"conversationId": conversation["id"], "content": content, "encrypted": encrypted}
        return await socket.call("send_message", body)

    refused = await ack(plain, SPAM, True)
    assert (refused["ok"], refused["error"]["code"]) == (False, "ENCRYPTION_NOT_ENABLED")
    refused = await ack(sealed, SPAM, True)
    assert (refused["ok"], refused["error"]["code"]) == (False, "VALIDATION_ERROR")
    refused = await ack(sealed, "in the clear", False)
    assert (refused["ok"], refused["error"]["code"]) == (False, "ENCRYPTION_REQUIRED")
    accepted = await ack(sealed, envelope(), True)
    assert accepted["ok"] is True, accepted
    assert accepted["message"]["encrypted"] is True


# ---------------------------------------------------------------- edits


async def test_edit_of_an_encrypted_message_must_be_an_envelope(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await _e2e_conversation(client, alice, [bob])
    message = await send(client, bob, conversation["id"], envelope(), encrypted=True)
    url = f"/messages/{message['id']}"

    for content in (HELD, SPAM, _envelope_with(v=2)):
        _content_refused(await client.put(url, json={"content": content}, headers=bob.headers))
    replacement = envelope("key-2")
    edited = await client.put(url, json={"content": replacement}, headers=bob.headers)

    assert edited.status_code == 200, edited.text
    assert (edited.json()["content"], edited.json()["encrypted"], edited.json()["version"]) == (
        replacement,
        True,
        2,
    )
    assert (await get_message(client, alice, message["id"]))["content"] == replacement
    assert await _queue(client, alice, conversation["id"]) == []


async def test_edits_follow_the_current_setting(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    plain = await send(client, bob, conversation["id"], "said in the clear")
    assert (
        await _patch_settings(client, alice, conversation["id"], endToEndEncryption=True)
    ).is_success
    sealed = await send(client, bob, conversation["id"], envelope(), encrypted=True)

    refused = await client.put(
        f"/messages/{plain['id']}", json={"content": "still in the clear"}, headers=bob.headers
    )
    assert_error(refused, 409, "ENCRYPTION_REQUIRED")

    assert (
        await _patch_settings(client, alice, conversation["id"], endToEndEncryption=False)
    ).is_success
    refused = await client.put(
        f"/messages/{sealed['id']}", json={"content": envelope()}, headers=bob.headers
    )
    assert_error(refused, 409, "ENCRYPTION_NOT_ENABLED")
    assert (await get_message(client, alice, sealed["id"]))["version"] == 1


# ---------------------------------------------------------------- forwards


async def _forward(
    client: httpx.AsyncClient, user: User, message_id: str, *targets: dict[str, Any]
) -> httpx.Response:
    return await client.post(
        f"/messages/{message_id}/forward",
        params={"wait": "true"},
        json={"conversationIds": [t["id"] for t in targets]},
        headers=user.headers,
    )


async def test_encrypted_message_is_not_forwarded_where_encryption_is_off(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    sealed = await _e2e_conversation(client, alice, [bob])
    plain = await create_conversation(client, alice, [bob])
    message = await send(client, bob, sealed["id"], envelope(), encrypted=True)

    refused = await _forward(client, bob, message["id"], plain)

    error = assert_error(refused, 409, "ENCRYPTION_NOT_ENABLED")
    assert error["details"]["conversationId"] == plain["id"]
    assert await read_all(client, alice, plain["id"]) == []


async def test_plain_message_is_not_forwarded_where_encryption_is_on(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    sealed = await _e2e_conversation(client, alice, [bob])
    plain = await create_conversation(client, alice, [bob])
    message = await send(client, bob, plain["id"], "in the clear")

    refused = await _forward(client, bob, message["id"], sealed)

    assert_error(refused, 409, "ENCRYPTION_REQUIRED")
    assert await read_all(client, alice, sealed["id"]) == []


async def test_encrypted_message_is_forwarded_between_encrypted_conversations(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    source = await _e2e_conversation(client, alice, [bob])
    target = await _e2e_conversation(client, alice, [bob])
    content = envelope()
    message = await send(client, bob, source["id"], content, encrypted=True)

    forwarded = await _forward(client, bob, message["id"], target)

    assert forwarded.status_code == 201, forwarded.text
    [copy] = forwarded.json()["items"]
    assert (copy["type"], copy["encrypted"], copy["content"]) == ("FORWARD", True, content)
