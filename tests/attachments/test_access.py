"""Who may fetch an attachment, and how messages carry them (the folder backend: the rules do
not depend on where the bytes are)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.attachments.conftest import FilesServer
from tests.attachments.helpers import download, png, upload, uploaded
from tests.realtime.sockets import Recorder, open_socket
from tests.support import (
    User,
    add,
    assert_error,
    create_conversation,
    delete_message,
    patch_participant,
    post_message,
    remove,
    send,
)


@pytest.fixture
async def http(local_files: FilesServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=local_files.server.url, timeout=30) as client:
        yield client


@pytest.fixture
def people(local_files: FilesServer) -> dict[str, User]:
    return local_files.users


async def _shared(
    http: httpx.AsyncClient, people: dict[str, User], content: bytes = b"notes"
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """alice uploads a file and sends it to a group with bob: (attachment, group, message)."""
    alice, bob = people["alice"], people["bob"]
    attachment = await uploaded(http, alice, content, "notes.txt")
    group = await create_conversation(http, alice, [bob])
    message = await send(
        http, alice, str(group["id"]), "see the file", type="FILE", attachments=[attachment["id"]]
    )
    return attachment, group, message


async def test_only_the_uploader_fetches_an_unsent_upload(
    http: httpx.AsyncClient, people: dict[str, User]
) -> None:
    attachment = await uploaded(http, people["alice"], b"mine", "mine.txt")
    assert (await download(http, people["alice"], attachment["id"])).status_code == 200
    assert_error(await download(http, people["bob"], attachment["id"]), 404, "ATTACHMENT_NOT_FOUND")
    unknown = await download(http, people["bob"], str(uuid.uuid4()))
    assert_error(unknown, 404, "ATTACHMENT_NOT_FOUND")


async def test_members_of_a_conversation_where_a_message_carries_it_fetch_it(
    http: httpx.AsyncClient, people: dict[str, User]
) -> None:
    attachment, _, message = await _shared(http, people)
    assert message["type"] == "FILE"
    assert [ref["id"] for ref in message["attachments"]] == [attachment["id"]]
    fetched = await download(http, people["bob"], str(attachment["id"]))
    assert fetched.status_code == 200 and fetched.content == b"notes"
    outsider = await download(http, people["mallory"], str(attachment["id"]))
    assert_error(outsider, 404, "ATTACHMENT_NOT_FOUND")


async def test_an_image_message_carries_the_dimensions(
    http: httpx.AsyncClient, people: dict[str, User]
) -> None:
    alice, bob = people["alice"], people["bob"]
    image = await uploaded(http, alice, png(8, 5), "p.png")
    group = await create_conversation(http, alice, [bob])
    message = await send(http, alice, str(group["id"]), "", type="IMAGE", attachments=[image["id"]])
    assert message["attachments"][0]["mimeType"] == "image/png"
    assert (message["attachments"][0]["width"], message["attachments"][0]["height"]) == (8, 5)


async def test_a_removed_member_loses_access_at_once(
    http: httpx.AsyncClient, people: dict[str, User]
) -> None:
    attachment, group, _ = await _shared(http, people)
    assert (await download(http, people["bob"], str(attachment["id"]))).status_code == 200
    response = await remove(http, people["alice"], str(group["id"]), people["bob"])
    assert response.status_code in (200, 204), response.text
    gone = await download(http, people["bob"], str(attachment["id"]))
    assert_error(gone, 404, "ATTACHMENT_NOT_FOUND")


async def test_a_member_who_joins_later_fetches_it(
    http: httpx.AsyncClient, people: dict[str, User]
) -> None:
    attachment, group, _ = await _shared(http, people)
    assert (await add(http, people["alice"], str(group["id"]), [people["carol"]])).is_success
    assert (await download(http, people["carol"], str(attachment["id"]))).status_code == 200


async def test_a_forwarded_copy_grants_the_other_conversations_members(
    http: httpx.AsyncClient, people: dict[str, User]
) -> None:
    alice, carol = people["alice"], people["carol"]
    attachment, _, message = await _shared(http, people)
    assert_error(await download(http, carol, str(attachment["id"])), 404, "ATTACHMENT_NOT_FOUND")
    other = await create_conversation(http, alice, [carol])
    forwarded = await http.post(
        f"/messages/{message['id']}/forward",
        params={"wait": "true"},
        json={"conversationIds": [other["id"]]},
        headers=alice.headers,
    )
    assert forwarded.status_code == 201, forwarded.text
    copy = forwarded.json()["items"][0]
    assert [ref["id"] for ref in copy["attachments"]] == [attachment["id"]]
    assert (await download(http, carol, str(attachment["id"]))).status_code == 200


async def test_deleting_the_message_withdraws_it_from_the_members(
    http: httpx.AsyncClient, people: dict[str, User]
) -> None:
    attachment, _, message = await _shared(http, people)
    assert (await delete_message(http, people["alice"], str(message["id"]))).status_code == 200
    gone = await download(http, people["bob"], str(attachment["id"]))
    assert_error(gone, 404, "ATTACHMENT_NOT_FOUND")
    assert (await download(http, people["alice"], str(attachment["id"]))).status_code == 200


async def test_someone_elses_upload_cannot_be_sent(
    http: httpx.AsyncClient, people: dict[str, User]
) -> None:
    alice, mallory = people["alice"], people["mallory"]
    attachment = await uploaded(http, alice, b"secret", "s.txt")
    room = await create_conversation(http, mallory, [alice])
    response = await post_message(
        http, mallory, str(room["id"]), "mine now", type="FILE", attachments=[attachment["id"]]
    )
    assert_error(response, 422, "VALIDATION_ERROR")
    assert_error(await download(http, mallory, attachment["id"]), 404, "ATTACHMENT_NOT_FOUND")


async def test_an_attachment_is_sent_once(http: httpx.AsyncClient, people: dict[str, User]) -> None:
    attachment, group, _ = await _shared(http, people)
    again = await post_message(
        http,
        people["alice"],
        str(group["id"]),
        "again",
        wait=True,
        type="FILE",
        attachments=[attachment["id"]],
    )
    error = assert_error(again, 409, "ATTACHMENT_ALREADY_SENT")
    assert error["details"]["attachmentIds"] == [attachment["id"]]


async def test_a_file_message_needs_an_attachment(
    http: httpx.AsyncClient, people: dict[str, User]
) -> None:
    group = await create_conversation(http, people["alice"], [people["bob"]])
    response = await post_message(http, people["alice"], str(group["id"]), "x", type="IMAGE")
    assert_error(response, 422, "VALIDATION_ERROR")


async def test_without_can_upload_files_a_message_with_files_is_refused(
    http: httpx.AsyncClient, people: dict[str, User]
) -> None:
    alice, bob = people["alice"], people["bob"]
    group = await create_conversation(http, alice, [bob])
    revoked = await patch_participant(
        http, alice, str(group["id"]), bob, {"permissions": {"canUploadFiles": False}}
    )
    assert revoked.status_code == 200, revoked.text
    attachment = await uploaded(http, bob, b"bob's", "b.txt")
    response = await post_message(
        http, bob, str(group["id"]), "file", type="FILE", attachments=[attachment["id"]]
    )
    error = assert_error(response, 403, "PERMISSION_DENIED")
    assert error["details"]["flag"] == "canUploadFiles"
    # Named at upload time, the conversation is checked then too.
    early = await upload(http, bob, b"x", "x.txt", conversationId=str(group["id"]))
    assert_error(early, 403, "PERMISSION_DENIED")
    # Text still goes through.
    assert (await post_message(http, bob, str(group["id"]), "text only")).status_code == 202


async def test_an_upload_named_for_a_conversation_of_others_is_refused(
    http: httpx.AsyncClient, people: dict[str, User]
) -> None:
    group = await create_conversation(http, people["alice"], [people["bob"]])
    response = await upload(http, people["mallory"], b"x", "x.txt", conversationId=str(group["id"]))
    assert_error(response, 404, "CONVERSATION_NOT_FOUND")
    allowed = await upload(http, people["bob"], b"x", "x.txt", conversationId=str(group["id"]))
    assert allowed.status_code == 201


async def test_files_of_a_held_message_reach_members_only_once_approved(
    http: httpx.AsyncClient, people: dict[str, User]
) -> None:
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    group = await create_conversation(http, alice, [bob, carol])
    attachment = await uploaded(http, bob, b"held file", "h.txt")
    held = await send(
        http,
        bob,
        str(group["id"]),
        "fuck this shit, fuck",
        type="FILE",
        attachments=[attachment["id"]],
    )
    assert held["status"] == "MODERATED"
    assert_error(await download(http, carol, str(attachment["id"])), 404, "ATTACHMENT_NOT_FOUND")
    queue = await http.get(
        "/moderation/queue", params={"conversationId": group["id"]}, headers=alice.headers
    )
    item = next(i for i in queue.json()["items"] if i["messageId"] == held["id"])
    decided = await http.post(
        f"/moderation/queue/{item['id']}/decision",
        json={"action": "APPROVE"},
        headers=alice.headers,
    )
    assert decided.status_code == 200, decided.text
    assert (await download(http, carol, str(attachment["id"]))).content == b"held file"


async def test_openapi_documents_the_attachment_routes_and_their_errors(
    http: httpx.AsyncClient,
) -> None:
    document = (await http.get("/openapi.json")).json()
    upload_route = document["paths"]["/attachments"]["post"]
    assert {"201", "403", "404", "413", "422", "429"} <= set(upload_route["responses"])
    assert "multipart/form-data" in upload_route["requestBody"]["content"]
    download_route = document["paths"]["/attachments/{attachment_id}"]["get"]
    assert {"200", "206", "304", "404", "416"} <= set(download_route["responses"])


async def test_a_committed_send_with_a_file_adds_three_statements_to_a_plain_one(
    http: httpx.AsyncClient, people: dict[str, User]
) -> None:
    alice, bob = people["alice"], people["bob"]
    group = await create_conversation(http, alice, [bob])
    await send(http, alice, str(group["id"]), "warm-up")
    attachment = await uploaded(http, alice, b"counted", "c.txt")
    response = await post_message(
        http,
        alice,
        str(group["id"]),
        "file",
        wait=True,
        type="FILE",
        attachments=[attachment["id"]],
    )
    assert response.status_code == 201, response.text
    # A plain send committed alone: seq counter, insert, read pointer, the day's two analytics
    # counters (5). With a file: the sender's uploads read before the ack, the stamp and the
    # link row in the batch.
    assert int(response.headers["x-sql-statements"]) == 5 + 3


async def test_a_file_sent_over_the_socket_reaches_the_members(
    http: httpx.AsyncClient,
    people: dict[str, User],
    local_files: FilesServer,
    sockets: list[Recorder],
) -> None:
    alice, bob = people["alice"], people["bob"]
    group = await create_conversation(http, alice, [bob])
    attachment = await uploaded(http, alice, b"socket notes", "socket.txt")
    sender = await open_socket(sockets, local_files.server, alice)
    receiver = await open_socket(sockets, local_files.server, bob)
    body = {
        "conversationId": str(group["id"]),
        "content": "over the socket",
        "type": "FILE",
        "attachments": [attachment["id"]],
        "clientMessageId": str(uuid.uuid4()),
    }
    answer = await sender.call("send_message", body)
    assert answer["ok"] is True, answer
    assert [ref["id"] for ref in answer["message"]["attachments"]] == [attachment["id"]]
    arrived = await receiver.next_of("new_message")
    assert [ref["id"] for ref in arrived["message"]["attachments"]] == [attachment["id"]]
    fetched = await download(http, bob, attachment["id"])
    assert fetched.status_code == 200 and fetched.content == b"socket notes"
    again = await sender.call("send_message", {**body, "clientMessageId": str(uuid.uuid4())})
    assert again["ok"] is False and again["error"]["code"] == "ATTACHMENT_ALREADY_SENT"
