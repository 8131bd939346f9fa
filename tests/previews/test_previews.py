"""Link previews through the public interface, on a server with PREVIEW_ALLOW_PRIVATE=true
fetching the loopback page server: pushed as `message_updated`, stored in
`metadata.urlPreviews`, within the limits of docs/api.md (Link previews)."""

from __future__ import annotations

import asyncio
import secrets

import httpx
import pytest

from tests.conftest import BACKEND
from tests.previews.conftest import RESULTS, Counters, Room, message_updated, pair
from tests.previews.pages import PageServer
from tests.realtime.sockets import Recorder, open_socket
from tests.support import (
    Server,
    assert_error,
    create_conversation,
    delete_message,
    envelope,
    get_message,
    new_client_id,
    register,
    send,
)


def tag() -> str:
    return secrets.token_hex(6)


async def test_preview_of_an_opengraph_page_is_pushed_and_stored(
    room: Room, pages: PageServer
) -> None:
    name = tag()
    link = pages.url(f"/og/{name}")

    sent, updated = await room.send_and_wait(f"see {link} now")

    expected = {
        "url": link,
        "title": f"Launch notes & more {name}",
        "description": "What shipped this week, in short.",
        "imageUrl": pages.url(f"/img/{name}.png"),
        "siteName": "Parley Test Pages",
    }
    assert updated["metadata"]["urlPreviews"] == [expected]
    assert updated["metadata"]["urls"] == [link]
    # A preview is not an edit.
    assert (updated["status"], updated["editedAt"], updated["version"]) == ("SENT", None, 1)
    assert updated["content"] == f"see {link} now"
    stored = await get_message(room.client, room.bob, sent["id"])
    assert stored["metadata"]["urlPreviews"] == [expected]
    assert stored == {**updated, "deliveryTracker": None}


async def test_title_only_page_sent_over_the_socket_gets_its_title(
    room: Room, open_server: Server, pages: PageServer, sockets: list[Recorder]
) -> None:
    sender = await open_socket(sockets, open_server, room.alice)
    name = tag()
    link = pages.url(f"/title/{name}")

    ack = await sender.call(
        "send_message",
        {
            "conversationId": room.conversation_id,
            "content": link,
            "clientMessageId": new_client_id(),
        },
    )
    assert ack["ok"] is True, ack

    updated = (await message_updated(room.listener, ack["message"]["id"]))["message"]
    assert updated["metadata"]["urlPreviews"] == [
        {
            "url": link,
            "title": f"Only a title {name}",
            "description": None,
            "imageUrl": None,
            "siteName": None,
        }
    ]


async def test_twitter_card_is_the_fallback_for_opengraph(room: Room, pages: PageServer) -> None:
    name = tag()

    _, updated = await room.send_and_wait(pages.url(f"/twitter/{name}"))

    (preview,) = updated["metadata"]["urlPreviews"]
    assert (preview["title"], preview["description"], preview["imageUrl"]) == (
        f"Card {name}",
        "A card's description",
        f"https://cdn.example.test/{name}.jpg",
    )


async def test_at_most_three_links_of_a_message_are_fetched(room: Room, pages: PageServer) -> None:
    names = [tag() for _ in range(4)]
    links = [pages.url(f"/title/{name}") for name in names]

    _, updated = await room.send_and_wait(" and ".join(links))

    assert [p["url"] for p in updated["metadata"]["urlPreviews"]] == links[:3]
    assert updated["metadata"]["urls"] == links
    assert [len(pages.requested(name)) for name in names] == [1, 1, 1, 0]


async def test_a_link_is_fetched_once_then_served_from_the_cache(
    room: Room, pages: PageServer
) -> None:
    name = tag()
    link = pages.url(f"/og/{name}")
    counters = await Counters.start(room.client)

    _, first = await room.send_and_wait(f"first {link}")
    _, second = await room.send_and_wait(f"again {link}", sender=room.bob)
    first_preview, second_preview = first["metadata"], second["metadata"]

    assert second_preview["urlPreviews"] == first_preview["urlPreviews"]
    assert len(pages.requested(name)) == 1
    await counters.reach(outcomes={"fetched": 1, "cached": 1})


@pytest.mark.skipif(BACKEND != "postgres", reason="several instances need PostgreSQL and Redis")
async def test_instances_share_the_preview_cache(
    open_server: Server,
    second_open_server: Server,
    open_client: httpx.AsyncClient,
    pages: PageServer,
    sockets: list[Recorder],
) -> None:
    alice, bob = await pair(open_client)
    conversation = await create_conversation(open_client, alice, [bob])
    first_listener = await open_socket(sockets, open_server, bob)
    second_listener = await open_socket(sockets, second_open_server, bob)
    name = tag()
    link = pages.url(f"/og/{name}")

    first = await send(open_client, alice, conversation["id"], link)
    await message_updated(first_listener, first["id"])
    async with httpx.AsyncClient(base_url=second_open_server.url, timeout=30) as second_client:
        second = await send(second_client, alice, conversation["id"], f"again {link}")
    updated = (await message_updated(second_listener, second["id"]))["message"]

    assert [p["url"] for p in updated["metadata"]["urlPreviews"]] == [link]
    assert len(pages.requested(name)) == 1


@pytest.mark.parametrize(
    ("route", "outcome"),
    [("big", "too_large"), ("slow", "timeout"), ("pdf", "not_html")],
    ids=["over-the-size-cap", "slower-than-the-timeout", "not-html"],
)
async def test_a_page_that_cannot_be_previewed_leaves_the_others(
    room: Room, pages: PageServer, route: str, outcome: str
) -> None:
    failing, good = tag(), tag()
    counters = await Counters.start(room.client)

    _, updated = await room.send_and_wait(
        f"{pages.url(f'/{route}/{failing}')} {pages.url(f'/title/{good}')}"
    )

    assert [p["url"] for p in updated["metadata"]["urlPreviews"]] == [pages.url(f"/title/{good}")]
    await counters.reach(outcomes={outcome: 1})
    assert len(pages.requested(failing)) == 1


async def test_redirects_are_followed_up_to_five(room: Room, pages: PageServer) -> None:
    near, far = tag(), tag()
    counters = await Counters.start(room.client)
    five = pages.url(f"/redirect/5/{near}")
    six = pages.url(f"/redirect/6/{far}")

    _, updated = await room.send_and_wait(f"{five} {six}")

    (preview,) = updated["metadata"]["urlPreviews"]
    # The link as sent; the image resolved against the page the redirects ended on.
    assert (preview["url"], preview["imageUrl"]) == (five, pages.url(f"/img/{near}.png"))
    await counters.reach(outcomes={"error": 1})
    assert len(pages.requested(f"/og/{far}")) == 0


async def test_conversation_with_previews_off_makes_no_request(
    open_server: Server, open_client: httpx.AsyncClient, pages: PageServer
) -> None:
    alice, bob = await pair(open_client)
    conversation = await create_conversation(open_client, alice, [bob])
    switched = await open_client.patch(
        f"/conversations/{conversation['id']}",
        json={"settings": {"linkPreviews": False}},
        headers=alice.headers,
    )
    assert switched.status_code == 200, switched.text
    assert switched.json()["settings"]["linkPreviews"] is False
    name = tag()
    counters = await Counters.start(open_client)

    sent = await send(open_client, alice, conversation["id"], pages.url(f"/og/{name}"))

    await counters.reach(results={"skipped_disabled": 1})
    assert pages.requested(name) == []
    assert (await get_message(open_client, bob, sent["id"]))["metadata"]["urlPreviews"] == []


async def test_link_previews_setting_takes_a_boolean_only(open_client: httpx.AsyncClient) -> None:
    alice, bob = await pair(open_client)
    conversation = await create_conversation(open_client, alice, [bob])
    refused = await open_client.patch(
        f"/conversations/{conversation['id']}",
        json={"settings": {"linkPreviews": "sometimes"}},
        headers=alice.headers,
    )
    assert_error(refused, 422, "VALIDATION_ERROR")


async def test_encrypted_message_is_never_fetched(
    open_server: Server, open_client: httpx.AsyncClient, pages: PageServer
) -> None:
    alice, bob = await pair(open_client)
    conversation = await create_conversation(
        open_client, alice, [bob], settings={"endToEndEncryption": True}
    )
    name = tag()
    # The key id is free text: a link there would be found in plain text, never here.
    content = envelope(kid=pages.url(f"/og/{name}"))
    counters = await Counters.start(open_client)

    sent = await send(open_client, alice, conversation["id"], content, encrypted=True)

    await counters.reach(results={"skipped_encrypted": 1})
    assert pages.requested(name) == []
    stored = await get_message(open_client, bob, sent["id"])
    assert stored["metadata"]["urls"] == [] and stored["metadata"]["urlPreviews"] == []


async def test_an_edit_with_a_new_link_gets_its_preview(room: Room, pages: PageServer) -> None:
    old, new = tag(), tag()
    sent, _ = await room.send_and_wait(pages.url(f"/title/{old}"))
    listener = room.listener

    edited = await room.client.put(
        f"/messages/{sent['id']}",
        json={"content": f"{pages.url(f'/title/{old}')} {pages.url(f'/og/{new}')}"},
        headers=room.alice.headers,
    )
    assert edited.status_code == 200, edited.text
    # The edit keeps the preview of the link it kept; the new link's follows.
    assert [p["url"] for p in edited.json()["metadata"]["urlPreviews"]] == [
        pages.url(f"/title/{old}")
    ]
    edit_event = (await message_updated(listener, sent["id"]))["message"]
    assert edit_event["version"] == 2
    preview_event = (await message_updated(listener, sent["id"]))["message"]
    assert [p["url"] for p in preview_event["metadata"]["urlPreviews"]] == [
        pages.url(f"/title/{old}"),
        pages.url(f"/og/{new}"),
    ]
    assert (preview_event["status"], preview_event["version"]) == ("EDITED", 2)
    assert preview_event["editedAt"] == edit_event["editedAt"]
    assert len(pages.requested(old)) == 1  # the kept link was not fetched again


async def test_a_message_deleted_while_its_page_is_fetched_is_not_updated(
    room: Room, pages: PageServer
) -> None:
    open_client, alice, bob, listener = room.client, room.alice, room.bob, room.listener
    name = tag()
    arrived, released = pages.gate(name)
    counters = await Counters.start(open_client)
    sent = await send(open_client, alice, room.conversation_id, pages.url(f"/held/{name}"))

    # The worker has looked the message up and is fetching its page: delete it now, then let
    # the page answer (well within PREVIEW_TIMEOUT).
    await asyncio.wait_for(arrived.wait(), 10)
    assert (await delete_message(open_client, alice, sent["id"])).status_code in (200, 204)
    released.set()

    samples = await counters.reach(outcomes={"fetched": 1}, results={"none": 1})
    assert counters.moved(samples, RESULTS, "result", "previewed") == 0
    assert (await listener.next_of("new_message"))["message"]["id"] == sent["id"]
    assert (await listener.next_of("message_deleted"))["message"]["id"] == sent["id"]
    assert listener.events.empty()  # and no message_updated
    stored = await get_message(open_client, bob, sent["id"])
    assert stored["status"] == "DELETED" and stored["metadata"] == {}


async def test_openapi_types_the_previews_of_a_message(open_client: httpx.AsyncClient) -> None:
    document = (await open_client.get("/openapi.json")).json()
    metadata = document["components"]["schemas"]["MessageOut"]["properties"]["metadata"]
    item = metadata["properties"]["urlPreviews"]["items"]
    assert set(item["properties"]) == {"url", "title", "description", "imageUrl", "siteName"}
    assert item["required"] == ["url"]


async def test_a_held_message_gets_its_previews_once_a_reviewer_approves_it(
    open_server: Server, open_client: httpx.AsyncClient, pages: PageServer, sockets: list[Recorder]
) -> None:
    alice, bob = await pair(open_client)
    carol = await register(open_client, "carol")
    conversation = await create_conversation(open_client, alice, [bob, carol])
    listener = await open_socket(sockets, open_server, carol)
    name = tag()
    counters = await Counters.start(open_client)
    # Three profane words score 0.85: a member's message is held for review
    # (tests/moderation/test_moderation.py).
    sent = await send(
        open_client, bob, conversation["id"], f"fuck this shit, fuck {pages.url(f'/og/{name}')}"
    )
    assert sent["status"] == "MODERATED"
    await counters.reach(results={"skipped_held": 1})
    assert pages.requested(name) == []

    queue = await open_client.get(
        "/moderation/queue",
        params={"conversationId": conversation["id"]},
        headers=alice.headers,
    )
    [item] = queue.json()["items"]
    decided = await open_client.post(
        f"/moderation/queue/{item['id']}/decision",
        json={"action": "APPROVE"},
        headers=alice.headers,
    )
    assert decided.status_code == 200, decided.text

    assert (await listener.next_of("new_message"))["message"]["status"] == "MODERATED"
    assert (await listener.next_of("message_updated"))["message"]["status"] == "SENT"
    previewed = (await message_updated(listener, sent["id"]))["message"]
    assert [p["url"] for p in previewed["metadata"]["urlPreviews"]] == [pages.url(f"/og/{name}")]
    assert len(pages.requested(name)) == 1
